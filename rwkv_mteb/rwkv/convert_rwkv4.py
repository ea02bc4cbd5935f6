"""BlinkDL's RWKV-4 ``.pth`` -> the Hugging Face layout of transformers' ``RwkvModel``, the path the project runs
RWKV-4 through. Renames only (``emb`` -> ``rwkv.embeddings``, ``ln0`` -> ``pre_ln``, ``att`` -> ``attention``,
``ffn`` -> ``feed_forward``, ``time_mix_{k,v,r}`` -> ``time_mix_{key,value,receptance}``); the raw ``time_decay``
is what both layouts store (each takes ``-exp`` of it when it runs)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import RwkvConfig

from rwkv_mteb.errors import CheckpointError

_PARTS = {"emb": "embeddings", "ln0": "pre_ln", "att": "attention", "ffn": "feed_forward"}
_MIX = {"time_mix_k": "time_mix_key", "time_mix_v": "time_mix_value", "time_mix_r": "time_mix_receptance"}


def hf_name(name: str) -> str:
    if name.startswith("head."):
        return name
    return "rwkv." + ".".join(_MIX.get(p, _PARTS.get(p, p)) for p in name.split("."))


def convert_rwkv4(pth: Path, out: Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` for ``transformers.RwkvModel`` into ``out``."""
    try:
        state = torch.load(str(pth), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{pth} is not a readable .pth checkpoint ({type(exc).__name__}: {exc})") from None
    if "blocks.0.att.time_first" not in state:
        raise CheckpointError(f"{pth} is not an RWKV-4 checkpoint (no blocks.0.att.time_first)")
    vocab, hidden = state["emb.weight"].shape
    layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    config = RwkvConfig(
        vocab_size=int(vocab),
        hidden_size=int(hidden),
        num_hidden_layers=layers,
        attention_hidden_size=int(state["blocks.0.att.key.weight"].shape[0]),
        intermediate_size=int(state["blocks.0.ffn.key.weight"].shape[0]),
        context_length=1024,
        layer_norm_epsilon=1e-5,
        rescale_every=0,  # layers keep their true scale
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
        architectures=["RwkvForCausalLM"],
    )
    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in state.items():
        if ".time_mix_" in name:
            tensor = tensor.reshape(1, 1, -1)  # transformers' shape; BlinkDL files vary
        elif ".time_decay" in name or ".time_first" in name:
            tensor = tensor.reshape(-1)
        tensors[hf_name(name)] = tensor.float().contiguous()
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    config.save_pretrained(out)
    return out
