"""How a registered name becomes a model: the loader MTEB calls (``ModelMeta.loader``) and the builders it
dispatches to by ``loader_kwargs["builder"]``.

Torch-free on purpose: the model declarations import this module while ``import mteb`` runs. The builders
(:mod:`rwkv_mteb.models.builders`) import torch and sentence-transformers when a model is actually loaded.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

from rwkv_mteb.config import model_paths
from rwkv_mteb.models.wrapper import wrap_for_mteb
from rwkv_mteb.mteb_internals import model_registry
from rwkv_mteb.provenance.identity import path_digest, revision_of

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# builder name -> function of rwkv_mteb.models.builders; each returns a SentenceTransformer
BUILDERS = ("glove", "sbert", "simcse", "layerwise")


def torch_device(device: str | int | None) -> str | None:
    """``mteb run --device 0`` passes an int; sentence-transformers wants a device string."""
    return f"cuda:{device}" if isinstance(device, int) else device


def build_model(
    name: str, revision: str | None = None, device: str | int | None = None, *, builder: str, **options: Any
) -> SentenceTransformer:
    """The SentenceTransformer ``loader_kwargs`` describe (``builder`` plus that builder's options)."""
    if builder not in BUILDERS:
        raise ValueError(f"unknown builder {builder!r} in the loader_kwargs of {name}; one of {BUILDERS}")
    builders = importlib.import_module("rwkv_mteb.models.builders")  # torch and sentence-transformers
    return getattr(builders, builder)(name, revision, torch_device(device), **options)


def content_revision(name: str, model: SentenceTransformer) -> str | None:
    """The revision of the weights actually loaded, where the declared one cannot be trusted: a layer-wise
    model's hub commit or content digest, or the content digest of a user-mapped local copy."""
    revision = getattr(model[0], "revision", None) if len(model) else None
    if revision:
        return revision
    if name in model_paths():
        return revision_of(path_digest(model_paths()[name]))
    return None


def mteb_loader(name: str, revision: str | None = None, device: str | int | None = None, **kwargs: Any) -> Any:
    """The loader MTEB calls: our SentenceTransformer in MTEB's standard wrapper, revisioned by the weights it
    holds, with the profiling hook attached."""
    start = time.perf_counter()
    model = build_model(name, revision, device, **kwargs)
    return wrap_for_mteb(model, model_registry().get(name), content_revision(name, model), time.perf_counter() - start)
