"""The language models behind the layer-wise encoder, behind one interface (:class:`Backbone`): our exact RWKV-6
and RWKV-7 (:class:`NativeRwkv`) and any transformers model (:class:`TransformersModel`), with the pooling they
share and the padding-free batch plan of a recurrent model."""

from __future__ import annotations

import logging
from pathlib import Path

from rwkv_mteb.backbones.base import Backbone
from rwkv_mteb.backbones.rwkv import NativeRwkv
from rwkv_mteb.backbones.transformers import TransformersModel
from rwkv_mteb.errors import CheckpointError

FAMILIES = ("rwkv6", "rwkv7", "transformers")
logger = logging.getLogger(__name__)
__all__ = ["FAMILIES", "Backbone", "NativeRwkv", "TransformersModel", "load_backbone", "load_served_backbone"]


def load_backbone(
    family: str,
    source: str | Path,
    dtype: str = "float32",
    device: str = "cpu",
    revision: str | None = None,
    local_only: bool = True,
) -> Backbone:
    if family in ("rwkv6", "rwkv7"):  # the checkpoint itself says which
        return NativeRwkv(Path(source), dtype=dtype, device=device)
    if family == "transformers":
        return TransformersModel(source, dtype=dtype, device=device, revision=revision, local_only=local_only)
    raise CheckpointError(f"unknown backbone family {family!r}; use one of {', '.join(FAMILIES)}")


def load_served_backbone(
    base: str, family: str, *, name: str | None = None, revision: str | None = None, device: str, dtype: str
) -> Backbone:
    """The backbone behind a model name rwkv-mteb serves: a copy mapped in ``RWKV_MTEB_MODEL_PATHS`` (under the
    variant's ``name`` or ``base``), else the hub, else, where the hub fails, a packaged stand-in under its own
    revision. Needs neither MTEB nor sentence-transformers, so that a process measuring the backbone alone
    (`rwkv-mteb scaling`) starts in half the time."""
    from rwkv_mteb.models.sources import offline_stand_in, resolve_source

    source, local = resolve_source(base, name or base, family, revision)
    try:
        return load_backbone(family, source, dtype=dtype, device=device, revision=revision, local_only=local)
    except OSError as exc:  # the hub did not answer
        stand_in = None if local else offline_stand_in(base)
        if stand_in is None:
            raise
        logger.warning("%s: the hub failed (%s); using %s", base, exc, stand_in)
        return load_backbone(family, stand_in, dtype=dtype, device=device)
