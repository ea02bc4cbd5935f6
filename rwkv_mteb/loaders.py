"""How a registered name becomes a model: the loader MTEB calls (``ModelMeta.loader``) and the builders it
dispatches to by ``loader_kwargs["builder"]``.

Import-light on purpose (the model declarations import this module when mteb loads): torch,
sentence-transformers and transformers are imported by the builders, when a model is actually loaded.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rwkv_mteb.config import hub_offline, model_paths
from rwkv_mteb.errors import ModelUnavailableError
from rwkv_mteb.model_sources import local_path, offline_stand_in, require_hub

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# builder name -> "module:function"; each returns a SentenceTransformer
BUILDERS = {
    "glove": "rwkv_mteb.encoders:glove",
    "sbert": "rwkv_mteb.encoders:sentence_transformer",
    "simcse": "rwkv_mteb.encoders:simcse",
    "layerwise": "rwkv_mteb.loaders:build_layerwise",
}


def torch_device(device: str | int | None) -> str | None:
    """``mteb run --device 0`` passes an int; sentence-transformers wants a device string."""
    return f"cuda:{device}" if isinstance(device, int) else device


def build(
    name: str, revision: str | None = None, device: str | int | None = None, *, builder: str, **options: Any
) -> SentenceTransformer:
    module, _, function = BUILDERS[builder].partition(":")
    return getattr(importlib.import_module(module), function)(name, revision, torch_device(device), **options)


def content_revision(name: str, model: SentenceTransformer) -> str | None:
    """The revision of the weights actually loaded, where the declared one cannot be trusted: a layer-wise
    model's hub commit or content digest, or the content digest of a user-mapped local copy."""
    revision = getattr(model[0], "revision", None) if len(model) else None
    if revision:
        return revision
    if name in model_paths():
        from rwkv_mteb.identity import path_digest, revision_of

        return revision_of(path_digest(model_paths()[name]))
    return None


def mteb_loader(name: str, revision: str | None = None, device: str | int | None = None, **kwargs: Any) -> Any:
    """The loader MTEB calls: our SentenceTransformer in MTEB's standard wrapper, revisioned by the weights it
    holds, with the profiling hook attached."""
    from rwkv_mteb.profiling import profile
    from rwkv_mteb.seams import Encoder, model_registry

    start = time.perf_counter()
    model = build(name, revision, device, **kwargs)
    encoder = Encoder(model, model_registry().get(name), revision=content_revision(name, model))
    return profile(encoder, load_seconds=time.perf_counter() - start)


# ------------------------------------------------------------------------------------------ language models


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def vector_cache_enabled() -> bool:
    return os.environ.get("RWKV_MTEB_VECTOR_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}


def resolve_source(base: str, name: str, family: str, revision: str | None) -> tuple[str | Path, bool]:
    """(where the weights are, whether that is a local path): a user-mapped copy (the variant's name or the
    bare hub id), else the hub (RWKV-6 and RWKV-7 as downloaded snapshots, transformers models by name)."""
    for candidate in (name, base):
        path = local_path(candidate)
        if path is not None:
            return path, True
    stand_in = offline_stand_in(base)
    if stand_in is not None and hub_offline():
        return stand_in, True
    require_hub(base)
    if family == "transformers":
        return base, False
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            base, revision=revision, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.pth"]
        )
    except Exception as exc:
        raise ModelUnavailableError(
            f"could not download {base} from the hub ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            f"set RWKV_MTEB_MODEL_PATHS='{base}=/path/to/checkpoint'"
        ) from None
    return Path(folder), True


def build_layerwise(
    name: str,
    revision: str | None = None,
    device: str | None = None,
    *,
    base: str,
    family: str,
    layers: list[int] | None = None,
    pooling: str = "mean",
    combine: str = "mean",
    dtype: str | None = None,
    cache: bool | None = None,
    prompt: str | None = None,
) -> SentenceTransformer:
    """The SentenceTransformer pooling ``layers`` of language model ``base`` (``prompt``: a zero-shot method,
    see :mod:`rwkv_mteb.rwkv.prompts`)."""
    from rwkv_mteb.rwkv.layerwise import LayerwiseEncoder, LayerwiseModel, load_backbone

    if not layers:
        raise ModelUnavailableError(f"say which layer(s) of {base} to pool: e.g. '{base} (layer=1)', or layers=[1]")
    device = device or ("cuda" if _cuda() else "cpu")
    dtype = dtype or ("bfloat16" if device.startswith("cuda") else "float32")
    source, local = resolve_source(base, name, family, revision)
    try:
        backbone = load_backbone(family, source, dtype=dtype, device=device, revision=revision, local_only=local)
    except OSError as exc:  # the hub did not answer: a packaged stand-in, under its own revision
        stand_in = None if local else offline_stand_in(base)
        if stand_in is None:
            raise
        logging.getLogger(__name__).warning("%s: the hub failed (%s); using %s", base, exc, stand_in)
        backbone = load_backbone(family, stand_in, dtype=dtype, device=device)
    use_cache = vector_cache_enabled() if cache is None else cache
    module = LayerwiseEncoder(backbone, layers, pooling, combine, model_id=base, cache=use_cache, prompt=prompt)
    return LayerwiseModel(modules=[module], device=device, similarity_fn_name="cosine")
