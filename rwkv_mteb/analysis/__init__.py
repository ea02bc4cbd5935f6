"""``rwkv-mteb analyze``: what the seed paper's section 6 asks of a model's weights and states, per layer:
singular-value spectra (:mod:`spectra`), RWKV decay and memory length (:mod:`decay`), gradient norms of the
language-model loss (:mod:`gradients`) and cross-layer similarity (:mod:`cka`); :mod:`run` assembles them."""
