"""Our SentenceTransformers as MTEB encoders: MTEB's standard wrapper with the metadata we declared and the
revision of the weights actually loaded, and the profiling hook attached. Every evaluation (``mteb run``, a
protocol, each variant of a sweep, a sweep's dry run) goes through :func:`wrap_for_mteb`."""

from __future__ import annotations

from typing import Any

from rwkv_mteb.mteb_internals import SentenceTransformerEncoderWrapper, resolve_model_prompts
from rwkv_mteb.provenance.profiling import profile


class Encoder(SentenceTransformerEncoderWrapper):
    """MTEB's own constructor re-derives metadata from the model (and warns that it cannot tell the vocabulary
    size or architecture of a model it does not know); ``mteb_model_meta`` is a property here so that the
    revision, and a layer-wise model's experiment, survive MTEB assigning its registry copy after loading: the
    experiment is what the module computes (``mteb.get_model(m, layer=3, pooling="mean")`` is filed as
    ``layer_3``, like ``"m (layer=3)"``), never what the caller spelled. A model with a head after the
    layer-wise module (a trained scalar mix) is its own experiment: the module's layers are the head's input."""

    def __init__(self, model: Any, meta: Any, revision: str | None = None) -> None:  # not MTEB's: see above
        self.model = model
        self.content_revision = revision
        self.experiment = getattr(model[0], "experiment_kwargs", None) if len(model) == 1 else None
        self.mteb_model_meta = meta
        self.model_prompts = resolve_model_prompts(model)
        self.fps = self.max_frames = self.num_frames = self.target_sampling_rate = self.max_samples = None

    @property
    def mteb_model_meta(self) -> Any:
        return self._meta

    @mteb_model_meta.setter
    def mteb_model_meta(self, value: Any) -> None:
        if value is not None and self.content_revision and value.revision != self.content_revision:
            value = value.model_copy(update={"revision": self.content_revision})
        if value is not None and self.experiment is not None and value.experiment_kwargs != self.experiment:
            value = value.model_copy(update={"experiment_kwargs": self.experiment})
        self._meta = value


def wrap_for_mteb(model: Any, meta: Any, revision: str | None, load_seconds: float | None) -> Encoder:
    """``model`` (a SentenceTransformer) as an MTEB encoder filed under ``revision``, its cost profiled."""
    return profile(Encoder(model, meta, revision=revision), load_seconds=load_seconds)
