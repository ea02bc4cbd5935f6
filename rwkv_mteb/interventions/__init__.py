"""Interventions on the forward pass (ablations, decay changes) as a variant axis: the spec here, applied by each
backbone (:meth:`rwkv_mteb.backbones.Backbone.intervened`)."""
