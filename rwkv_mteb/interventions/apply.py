"""Applying an :class:`~rwkv_mteb.interventions.spec.Intervention` for the length of a forward pass: flags on
our RWKV blocks, forward hooks on a transformers model's decoder layers. Both undo themselves on exit, so one
backbone serves intact and intervened views alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from rwkv_mteb.errors import VariantError
from rwkv_mteb.interventions.spec import Intervention

ATTENTION_NAMES = ("self_attn", "attn", "attention", "mixer")
MLP_NAMES = ("mlp", "feed_forward", "ffn")


def rwkv_blocks(model: nn.Module) -> nn.ModuleList:
    """Our RWKV-6 (``rwkv.blocks``) or RWKV-7 (``blocks``) block list."""
    return model.rwkv.blocks if hasattr(model, "rwkv") else model.blocks


@contextmanager
def on_rwkv(model: nn.Module, intervention: Intervention) -> Iterator[None]:
    blocks = rwkv_blocks(model)
    intervention.check("rwkv", len(blocks))
    try:
        for term in intervention.terms:
            block = blocks[term.layer]
            mix = block.attention if hasattr(block, "attention") else block.att
            if term.kind in ("time_mix", "block"):
                block.zero_time_mix = True
            if term.kind in ("channel_mix", "block"):
                block.zero_channel_mix = True
            if term.kind == "decay=static":
                mix.decay_static = True
            if term.kind == "decay=scale":
                mix.decay_scale = float(term.factor)
        yield
    finally:
        for block in blocks:
            block.zero_time_mix = block.zero_channel_mix = False
            mix = block.attention if hasattr(block, "attention") else block.att
            mix.decay_static, mix.decay_scale = False, 1.0


def decoder_layers(model: nn.Module, count: int) -> nn.ModuleList:
    """The model's list of ``count`` decoder layers (``layers``, ``h``, ``blocks``, ...): the first module list of
    that length in its tree."""
    for _, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise VariantError(f"found no list of {count} decoder layers in {type(model).__name__}; it cannot be intervened")


def _sublayer(layer: nn.Module, names: tuple[str, ...], what: str) -> nn.Module:
    for name in names:
        if isinstance(getattr(layer, name, None), nn.Module):
            return getattr(layer, name)
    raise VariantError(f"{type(layer).__name__} has no {what} submodule (looked for {', '.join(names)})")


def _zero_output(_module: nn.Module, _args: Any, output: Any) -> Any:
    if isinstance(output, tuple):
        return (torch.zeros_like(output[0]), *output[1:])
    return torch.zeros_like(output)


def _identity_output(_module: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
    hidden = args[0] if args else kwargs["hidden_states"]
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    return hidden


@contextmanager
def on_transformers(model: nn.Module, count: int, intervention: Intervention) -> Iterator[None]:
    intervention.check("transformers", count)
    layers = decoder_layers(model, count) if intervention else None
    handles = []
    try:
        for term in intervention.terms:
            layer = layers[term.layer]
            # prepended: transformers records hidden states with its own forward hooks, which must see our output
            if term.kind == "block":
                handles.append(layer.register_forward_hook(_identity_output, with_kwargs=True, prepend=True))
            else:
                names, what = (ATTENTION_NAMES, "attention") if term.kind == "attention" else (MLP_NAMES, "MLP")
                handles.append(_sublayer(layer, names, what).register_forward_hook(_zero_output, prepend=True))
        yield
    finally:
        for handle in handles:
            handle.remove()
