"""RWKV-7 checkpoints: BlinkDL ``.pth`` files (the layout of ``modeling_rwkv7``) and the flash-linear-attention
layout of the hub's ``fla-hub/rwkv7-*`` repositories (``config.json`` with ``model_type: rwkv7`` and
``model.safetensors``), the config the tensors' shapes imply, and random weights for tests and demos.
:mod:`rwkv_mteb.rwkv.checkpoint` is the front door for both generations.

The fla layout renames and transposes (facts from fla's own converter, ``utils/convert_from_rwkv7.py``):
``model.embeddings`` = ``emb``, ``model.norm`` = ``ln_out``, ``lm_head`` = ``head``;
``model.layers.{i}.{pre_norm,attn_norm,ffn_norm}`` = ``blocks.{i}.{ln0,ln1,ln2}``; ``attn.{r,k,v,o}_proj`` =
``att.{receptance,key,value,output}``, ``attn.g_norm`` = ``att.ln_x``; each low-rank pair ``{w,a,v,g}{1,2}``
is stored transposed as ``attn.{w,a,v,g}_lora.lora.{0,2}.weight`` with ``{w,a,v}0`` as ``lora.2.bias``;
``x_*``, ``k_k``, ``k_a``, ``r_k`` and ``ffn.*`` keep their names (vectors possibly squeezed). The
``RWKV/RWKV7-Goose-*-HF`` repositories, which carry their own remote modelling code, are not supported.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import torch
from safetensors.torch import save_file

from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Config
from rwkv_mteb.rwkv.weights import RandomDraws, read_pth, read_safetensors, weight_files

LABEL = "RWKV-7"

_FLA_TOP = {"model.embeddings.weight": "emb.weight", "model.norm.weight": "ln_out.weight"}
_FLA_TOP |= {"model.norm.bias": "ln_out.bias", "lm_head.weight": "head.weight"}
_FLA_PART = {"pre_norm": "ln0", "attn_norm": "ln1", "ffn_norm": "ln2", "attn": "att", "ffn": "ffn"}
_FLA_PROJ = {"r_proj": "receptance", "k_proj": "key", "v_proj": "value", "o_proj": "output", "g_norm": "ln_x"}
_LORA = re.compile(r"^([wavg])_lora\.lora\.(0\.weight|2\.weight|2\.bias)$")


def fla_to_blinkdl(name: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor]:
    if name in _FLA_TOP:
        return _FLA_TOP[name], tensor
    match = re.match(r"^model\.layers\.(\d+)\.([a-z_]+)\.(.+)$", name)
    if not match:
        raise CheckpointError(f"tensor {name!r} is not part of the flash-linear-attention RWKV-7 layout")
    layer, part, rest = match.groups()
    if part not in _FLA_PART:
        raise CheckpointError(f"tensor {name!r} is not part of the flash-linear-attention RWKV-7 layout")
    if part in {"pre_norm", "attn_norm", "ffn_norm"}:
        return f"blocks.{layer}.{_FLA_PART[part]}.{rest}", tensor
    head, _, tail = rest.partition(".")
    if part == "attn" and (lora := _LORA.match(rest)):
        kind, which = lora.groups()
        suffix = {"0.weight": "1", "2.weight": "2", "2.bias": "0"}[which]
        return f"blocks.{layer}.att.{kind}{suffix}", tensor if suffix == "0" else tensor.t()
    if part == "attn" and head in _FLA_PROJ:
        return f"blocks.{layer}.att.{_FLA_PROJ[head]}.{tail}", tensor
    return f"blocks.{layer}.{_FLA_PART[part]}.{rest}", tensor


def read_state_dict(path: Path, with_head: bool = False, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    kind, files = weight_files(path)
    if kind == "pth":
        state = read_pth(files[0])
    else:
        state = dict(fla_to_blinkdl(k, v) for k, v in read_safetensors(files, lambda k: True).items())
    out = {}
    for key, tensor in state.items():
        if key.startswith("head.") and not with_head:
            continue
        if key in {"blocks.0.att.v0", "blocks.0.att.v1", "blocks.0.att.v2"}:
            continue  # present in some files, never used: block 0's value is the residual source
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        out[key] = tensor
    return out


def infer_config(state: dict[str, torch.Tensor], declared: dict | None, source: Path) -> Rwkv7Config:
    """The shapes decide (an fla ``config.json`` names the same shapes; BlinkDL files have none)."""
    try:
        vocab, hidden = state["emb.weight"].shape
        r_k = state["blocks.0.att.r_k"]
        head_size = r_k.shape[-1] if r_k.dim() == 2 else 64  # (H, N), or flattened to (C,) with heads of 64
        layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        return Rwkv7Config(
            vocab_size=vocab,
            hidden_size=hidden,
            num_hidden_layers=layers,
            head_size=head_size,
            intermediate_size=state["blocks.0.ffn.key.weight"].shape[0],
            decay_lora=state["blocks.0.att.w1"].shape[1],
            a_lora=state["blocks.0.att.a1"].shape[1],
            value_lora=state["blocks.1.att.v1"].shape[1] if layers > 1 else 32,
            gate_lora=state["blocks.0.att.g1"].shape[1],
        )
    except KeyError as exc:
        raise CheckpointError(f"not an RWKV-7 checkpoint in {source}: tensor {exc} is missing") from None


def random_config(layers: int, hidden: int, head_size: int, vocab: int, ffn: int | None) -> Rwkv7Config:
    lora = max(32, round(hidden**0.5 / 32) * 32)
    return Rwkv7Config(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        head_size=head_size,
        intermediate_size=ffn,
        decay_lora=lora,
        a_lora=lora,
        value_lora=max(16, lora // 2),
        gate_lora=max(32, 2 * lora),
    )


def random_state_dict(config: Rwkv7Config, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights whose activations stay of order 1 through many blocks, with decays spread over their
    range, in-context rates and gates away from saturation, and every parameter exercised."""
    draws = RandomDraws(seed)
    normal, uniform, norm_pair = draws.normal, draws.uniform, draws.norm_pair
    c, f, v = config.hidden_size, config.ffn_size, config.vocab_size

    state = {"emb.weight": normal(v, c, std=1.0)}
    state |= norm_pair("blocks.0.ln0", c)
    for i in range(config.num_hidden_layers):
        p = f"blocks.{i}"
        state |= norm_pair(f"{p}.ln1", c) | norm_pair(f"{p}.ln2", c)
        att = f"{p}.att"
        for name in ("r", "w", "k", "v", "a", "g"):
            state[f"{att}.x_{name}"] = uniform(1, 1, c, low=0.0, high=1.0)
        loras = {"w": config.decay_lora, "a": config.a_lora, "g": config.gate_lora}
        if i > 0:
            loras["v"] = config.value_lora
        for kind, rank in loras.items():
            if kind != "g":
                state[f"{att}.{kind}0"] = uniform(1, 1, c, low=-3.0, high=3.0)
            state[f"{att}.{kind}1"] = normal(c, rank, std=0.5 / math.sqrt(c))
            state[f"{att}.{kind}2"] = normal(rank, c, std=1 / math.sqrt(rank))
        state[f"{att}.k_k"] = uniform(1, 1, c, low=0.5, high=1.5)
        state[f"{att}.k_a"] = uniform(1, 1, c, low=0.0, high=1.0)
        state[f"{att}.r_k"] = normal(config.num_heads, config.head_size, std=0.3)
        for name in ("receptance", "key", "value"):
            state[f"{att}.{name}.weight"] = normal(c, c, std=1 / math.sqrt(c))
        state[f"{att}.output.weight"] = normal(c, c, std=0.5 / math.sqrt(c))
        state |= norm_pair(f"{att}.ln_x", c)
        state[f"{p}.ffn.x_k"] = uniform(1, 1, c, low=0.0, high=1.0)
        state[f"{p}.ffn.key.weight"] = normal(f, c, std=1 / math.sqrt(c))
        state[f"{p}.ffn.value.weight"] = normal(c, f, std=0.5 / math.sqrt(f))
    state |= norm_pair("ln_out", c)
    state["head.weight"] = normal(v, c, std=1 / math.sqrt(c))
    return state


def blinkdl_to_fla(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`fla_to_blinkdl` (for writing fla-layout test checkpoints)."""
    top = {v: k for k, v in _FLA_TOP.items()}
    part = {v: k for k, v in _FLA_PART.items()}
    proj = {v: k for k, v in _FLA_PROJ.items()}
    out = {}
    for name, tensor in state.items():
        if name in top:
            out[top[name]] = tensor
            continue
        _, layer, group, rest = name.split(".", 3)
        if group in {"ln0", "ln1", "ln2"}:
            out[f"model.layers.{layer}.{part[group]}.{rest}"] = tensor
        elif group == "att" and re.match(r"^[wavg][012]$", rest):
            which = {"1": "0.weight", "2": "2.weight", "0": "2.bias"}[rest[1]]
            value = tensor.reshape(-1) if rest[1] == "0" else tensor.t().contiguous()
            out[f"model.layers.{layer}.attn.{rest[0]}_lora.lora.{which}"] = value
        elif group == "att" and rest.split(".")[0] in proj:
            head, _, tail = rest.partition(".")
            out[f"model.layers.{layer}.attn.{proj[head]}.{tail}"] = tensor
        else:
            out[f"model.layers.{layer}.{part[group]}.{rest}"] = tensor
    return out


def hf_files(state: dict[str, torch.Tensor], config: Rwkv7Config) -> tuple[dict[str, torch.Tensor], dict]:
    """The flash-linear-attention layout of these weights: (tensors, config.json)."""
    return blinkdl_to_fla(state), config.to_dict()


def write(out: Path, config: Rwkv7Config, state: dict[str, torch.Tensor], fmt: str) -> Path:
    """``pth``: BlinkDL's ``model.pth``; ``hf``: the fla layout (config.json + model.safetensors)."""
    if fmt == "hf":
        tensors, config_dict = hf_files(state, config)
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(config_dict, indent=2) + "\n")
        return out
    torch.save(state, out / "model.pth")
    return out / "model.pth"
