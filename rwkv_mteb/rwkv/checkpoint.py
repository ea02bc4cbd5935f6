"""RWKV checkpoints of both generations through one door: which generation a checkpoint holds, loading it
(checked against its shapes and config, never two copies of the weights in memory), and writing random ones for
tests and demos. What differs between generations (tensor names, config inference, random weights, file layouts)
lives in :mod:`checkpoint_rwkv6` and :mod:`checkpoint_rwkv7`; reading files in :mod:`weights`."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch

from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.rwkv import checkpoint_rwkv6, checkpoint_rwkv7
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Model
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Model
from rwkv_mteb.rwkv.tokenization_rwkv import VOCAB_FILE, WORLD_VOCAB_ROWS, world_vocab_file
from rwkv_mteb.rwkv.weights import assign_weights, declared_config, read_pth, weight_files

__all__ = ["GENERATIONS", "VOCAB_FILE", "load_rwkv", "make_checkpoint", "rwkv_generation", "weight_files"]


@dataclass(frozen=True)
class Generation:
    files: ModuleType  # read_state_dict, infer_config, random_config, random_state_dict, hf_files, write, LABEL
    model: type[Rwkv6Model] | type[Rwkv7Model]
    reshape_vectors: bool  # vectors may be stored squeezed or flattened (BlinkDL RWKV-7 files vary)
    default_format: str  # what make-checkpoint writes without --format


GENERATIONS = {
    "rwkv6": Generation(checkpoint_rwkv6, Rwkv6Model, reshape_vectors=False, default_format="hf"),
    "rwkv7": Generation(checkpoint_rwkv7, Rwkv7Model, reshape_vectors=True, default_format="pth"),
}


def rwkv_generation(path: Path) -> str:
    """``rwkv7`` for a checkpoint (file or folder) whose config or tensors say RWKV-7, else ``rwkv6``."""
    config = declared_config(path)
    if config is not None:
        return "rwkv7" if config.get("model_type") == "rwkv7" else "rwkv6"
    kind, files = weight_files(path)
    return "rwkv7" if kind == "pth" and "blocks.0.att.k_k" in read_pth(files[0]) else "rwkv6"


def load_rwkv(
    path: Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu", with_head: bool = False
) -> Rwkv6Model | Rwkv7Model:
    path = Path(path)
    generation = GENERATIONS[rwkv_generation(path)]
    state = generation.files.read_state_dict(path, with_head=with_head, dtype=dtype)
    config = generation.files.infer_config(state, declared_config(path), path)
    with torch.device("meta"):
        model = generation.model(config, with_head=with_head and "head.weight" in state)
    return assign_weights(model, state, path, generation.files.LABEL, dtype, device, generation.reshape_vectors)


def make_checkpoint(
    out: Path,
    layers: int,
    hidden: int,
    head_size: int = 64,
    vocab: int = WORLD_VOCAB_ROWS,
    seed: int = 0,
    fmt: str | None = None,
    ffn: int | None = None,
    arch: str = "rwkv6",
) -> Path:
    """A random checkpoint of ``arch`` (``rwkv6``: HF layout by default; ``rwkv7``: BlinkDL ``.pth``), with the
    World vocabulary file beside it when it has the World vocabulary's 65,536 rows (any other size is not World:
    256 rows is byte-level, and other sizes need their own vocabulary file)."""
    if arch not in GENERATIONS:
        raise CheckpointError(f"unknown architecture {arch!r}; use one of {', '.join(GENERATIONS)}")
    generation = GENERATIONS[arch]
    fmt = fmt or generation.default_format
    if fmt not in ("hf", "pth"):
        raise CheckpointError(f"unknown checkpoint format {fmt!r}; use 'hf' or 'pth'")
    if hidden % head_size:
        raise CheckpointError(f"--hidden {hidden} must be a multiple of the head size {head_size}")
    config = generation.files.random_config(layers, hidden, head_size, vocab, ffn)
    state = {k: t.contiguous() for k, t in generation.files.random_state_dict(config, seed).items()}
    out.mkdir(parents=True, exist_ok=True)
    written = generation.files.write(out, config, state, fmt)
    if vocab == WORLD_VOCAB_ROWS:
        shutil.copyfile(world_vocab_file(), out / VOCAB_FILE)
    return written
