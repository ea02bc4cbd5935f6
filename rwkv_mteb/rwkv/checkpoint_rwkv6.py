"""RWKV-6 ("Finch") checkpoints: the Hugging Face layout (``rwkv.blocks.N.attention.*``, single or sharded
safetensors) and BlinkDL's ``.pth`` names (``blocks.N.att.*``), the config the tensors' shapes imply, and random
weights for tests and demos. :mod:`rwkv_mteb.rwkv.checkpoint` is the front door for both generations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Config
from rwkv_mteb.rwkv.tokenization_rwkv import VOCAB_FILE, WORLD_VOCAB_ROWS
from rwkv_mteb.rwkv.weights import RandomDraws, read_pth, read_safetensors, weight_files

LABEL = "RWKV-6"


def _pth_to_hf(name: str) -> str:
    """BlinkDL names -> Hugging Face names (same shapes)."""
    if name.startswith("head."):
        return name
    parts = name.split(".")
    renames = {"emb": "embeddings", "att": "attention", "ffn": "feed_forward", "ln0": "pre_ln"}
    return "rwkv." + ".".join(renames.get(p, p) for p in parts)


def _hf_to_pth(name: str) -> str:
    if name.startswith("head."):
        return name
    renames = {"embeddings": "emb", "attention": "att", "feed_forward": "ffn", "pre_ln": "ln0"}
    return ".".join(renames.get(p, p) for p in name.removeprefix("rwkv.").split("."))


def read_state_dict(path: Path, with_head: bool = False, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Hugging Face names; floating-point tensors are converted to ``dtype`` as they are read."""
    kind, files = weight_files(path)

    def keep(key: str) -> bool:
        return with_head or not key.startswith("head.")

    if kind == "safetensors":
        return read_safetensors(files, keep, dtype)
    state = {_pth_to_hf(k): v for k, v in read_pth(files[0]).items() if keep(_pth_to_hf(k))}
    return {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v for k, v in state.items()}


def infer_config(
    state: dict[str, torch.Tensor], declared: dict | None = None, source: Path | None = None
) -> Rwkv6Config:
    """The shapes decide; a ``config.json`` that disagrees with them is an error, not a silent override."""
    where = f" in {source}" if source else ""
    try:
        vocab, hidden = state["rwkv.embeddings.weight"].shape
        heads, head_size = state["rwkv.blocks.0.attention.time_faaaa"].shape
        layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("rwkv.blocks."))
        config = Rwkv6Config(
            vocab_size=vocab,
            hidden_size=hidden,
            num_hidden_layers=layers,
            attention_hidden_size=heads * head_size,
            head_size=head_size,
            intermediate_size=state["rwkv.blocks.0.feed_forward.key.weight"].shape[0],
            layer_norm_epsilon=float((declared or {}).get("layer_norm_epsilon", 1e-5)),
            head_size_divisor=int((declared or {}).get("head_size_divisor") or 8),
            mix_lora=state["rwkv.blocks.0.attention.time_maa_w2"].shape[1],
            decay_lora=state["rwkv.blocks.0.attention.time_decay_w1"].shape[1],
        )
    except KeyError as exc:
        raise CheckpointError(f"not an RWKV-6 checkpoint{where}: tensor {exc} is missing") from None
    for field in ("hidden_size", "num_hidden_layers", "attention_hidden_size", "head_size", "vocab_size"):
        value = (declared or {}).get(field)
        if value is not None and value != getattr(config, field):
            raise CheckpointError(
                f"config.json{where} says {field}={value}, but the weights have {getattr(config, field)}; "
                "the config does not belong to these weights: fix or replace config.json"
            )
    return config


def random_config(layers: int, hidden: int, head_size: int, vocab: int, ffn: int | None) -> Rwkv6Config:
    return Rwkv6Config(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        attention_hidden_size=hidden,
        head_size=head_size,
        intermediate_size=ffn,
    )


def random_state_dict(config: Rwkv6Config, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights whose activations stay of order 1 through many blocks, with decays spread over (0, 1)
    and nonzero norm affines, so every parameter is exercised."""
    draws = RandomDraws(seed)
    normal, uniform, norm_pair = draws.normal, draws.uniform, draws.norm_pair
    c, a, f = config.hidden_size, config.attention_hidden_size, config.ffn_size
    h, n, v = config.num_heads, config.head_size, config.vocab_size

    state = {"rwkv.embeddings.weight": normal(v, c, std=1.0)}
    state |= norm_pair("rwkv.blocks.0.pre_ln", c)
    for i in range(config.num_hidden_layers):
        p = f"rwkv.blocks.{i}"
        state |= norm_pair(f"{p}.ln1", c) | norm_pair(f"{p}.ln2", c)
        att = f"{p}.attention"
        for name in ("x", "w", "k", "v", "r", "g"):
            state[f"{att}.time_maa_{name}"] = uniform(1, 1, c, low=0.0, high=1.0)
        state[f"{att}.time_maa_w1"] = normal(c, 5 * config.mix_lora, std=0.5 / math.sqrt(c))
        state[f"{att}.time_maa_w2"] = normal(5, config.mix_lora, c, std=0.5 / math.sqrt(config.mix_lora))
        state[f"{att}.time_decay"] = uniform(1, 1, a, low=-5.0, high=0.5)
        state[f"{att}.time_decay_w1"] = normal(c, config.decay_lora, std=0.5 / math.sqrt(c))
        state[f"{att}.time_decay_w2"] = normal(config.decay_lora, a, std=0.5 / math.sqrt(config.decay_lora))
        state[f"{att}.time_faaaa"] = uniform(h, n, low=-0.5, high=0.5)
        for name in ("receptance", "key", "value", "gate"):
            state[f"{att}.{name}.weight"] = normal(a, c, std=1 / math.sqrt(c))
        state[f"{att}.output.weight"] = normal(c, a, std=0.5 / math.sqrt(a))
        state |= norm_pair(f"{att}.ln_x", a)
        ffn = f"{p}.feed_forward"
        state[f"{ffn}.time_maa_k"] = uniform(1, 1, c, low=0.0, high=1.0)
        state[f"{ffn}.time_maa_r"] = uniform(1, 1, c, low=0.0, high=1.0)
        state[f"{ffn}.key.weight"] = normal(f, c, std=1 / math.sqrt(c))
        state[f"{ffn}.receptance.weight"] = normal(c, c, std=1 / math.sqrt(c))
        state[f"{ffn}.value.weight"] = normal(c, f, std=0.5 / math.sqrt(f))
    state |= norm_pair("rwkv.ln_out", c)
    state["head.weight"] = normal(v, c, std=1 / math.sqrt(c))
    return state


def hf_files(state: dict[str, torch.Tensor], config: Rwkv6Config) -> tuple[dict[str, torch.Tensor], dict]:
    """The Hugging Face layout of these weights: (tensors, config.json)."""
    return state, config.to_hf_dict()


def write(out: Path, config: Rwkv6Config, state: dict[str, torch.Tensor], fmt: str) -> Path:
    """``hf``: config.json + model.safetensors (+ tokenizer_config.json naming the World vocabulary, which the
    front door ships for a 65,536-row vocabulary); ``pth``: BlinkDL's ``model.pth``."""
    if fmt == "hf":
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(config.to_hf_dict(), indent=2) + "\n")
        if config.vocab_size == WORLD_VOCAB_ROWS:
            tokenizer = {"tokenizer_class": "Rwkv6Tokenizer", "vocab_file": VOCAB_FILE}
            (out / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=2) + "\n")
        return out
    torch.save({_hf_to_pth(k): t for k, t in state.items()}, out / "model.pth")
    return out / "model.pth"
