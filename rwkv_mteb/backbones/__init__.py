"""The language models behind the layer-wise encoder, behind one interface (:class:`Backbone`): our exact RWKV-6
and RWKV-7 (:class:`NativeRwkv`) and any transformers model (:class:`TransformersModel`), with the pooling they
share and the padding-free batch plan of a recurrent model."""

from __future__ import annotations

from pathlib import Path

from rwkv_mteb.backbones.base import Backbone
from rwkv_mteb.backbones.rwkv import NativeRwkv
from rwkv_mteb.backbones.transformers import TransformersModel
from rwkv_mteb.errors import CheckpointError

FAMILIES = ("rwkv6", "rwkv7", "transformers")
__all__ = ["FAMILIES", "Backbone", "NativeRwkv", "TransformersModel", "load_backbone"]


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
