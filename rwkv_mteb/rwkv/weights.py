"""Reading RWKV weights from disk, for both generations: which files a checkpoint folder holds, safetensors read
straight into their destination, BlinkDL ``.pth`` files, and placing a state dict into a model built on the meta
device (never two copies of the weights); plus the seeded draws random checkpoints are made from."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rwkv_mteb.errors import CheckpointError

_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(
    files: list[Path], keep: Callable[[str], bool], dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """Read tensors with plain file reads into freshly allocated memory, one at a time.

    safetensors' own reader memory-maps the file and copies out of the mapping, so the process holds the
    weights twice (the copies plus the mapped pages it touched): 9 GB for the 1.6B model in fp32. Reading
    straight into the destination keeps the peak at the weights' own size (see benchmarks/load_1b6.py).
    """
    out: dict[str, torch.Tensor] = {}
    for file in files:
        if not file.is_file():
            raise CheckpointError(f"checkpoint shard {file} is missing; re-download the checkpoint")
        size = file.stat().st_size
        with file.open("rb") as handle:
            try:
                (header_len,) = struct.unpack("<Q", handle.read(8))
                if header_len > size - 8:
                    raise ValueError(f"header of {header_len} bytes in a file of {size}")
                header = json.loads(handle.read(header_len))
            except (struct.error, ValueError, UnicodeDecodeError) as exc:
                raise CheckpointError(
                    f"{file} is corrupt or truncated ({exc}); re-download or re-create the checkpoint"
                ) from None
            base = 8 + header_len
            for name, info in header.items():
                if name == "__metadata__" or not keep(name):
                    continue
                start, end = info["data_offsets"]
                if base + end > size or info["dtype"] not in _SAFETENSORS_DTYPES:
                    raise CheckpointError(
                        f"{file} is corrupt or truncated (tensor {name} ends at byte {base + end}, the file has "
                        f"{size}); re-download or re-create the checkpoint"
                    )
                raw = torch.empty(end - start, dtype=torch.uint8)
                handle.seek(base + start)
                handle.readinto(memoryview(raw.numpy()))
                tensor = raw.view(_SAFETENSORS_DTYPES[info["dtype"]]).reshape(info["shape"])
                out[name] = tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor
    return out


def read_pth(file: Path) -> dict[str, torch.Tensor]:
    try:
        return dict(torch.load(str(file), map_location="cpu", weights_only=True, mmap=True))
    except Exception as exc:
        raise CheckpointError(f"{file} is not a readable .pth checkpoint ({type(exc).__name__}: {exc})") from None


def weight_files(path: Path) -> tuple[str, list[Path]]:
    """('safetensors' | 'pth', files) for a checkpoint folder or file."""
    if path.is_file():
        return ("pth" if path.suffix == ".pth" else "safetensors"), [path]
    if not path.is_dir():
        raise CheckpointError(f"RWKV checkpoint {path} does not exist")
    index = path / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return "safetensors", [path / s for s in shards]
    if (path / "model.safetensors").is_file():
        return "safetensors", [path / "model.safetensors"]
    pths = sorted(path.glob("*.pth"))
    if len(pths) == 1:
        return "pth", pths
    raise CheckpointError(
        f"{path} holds no model.safetensors, model.safetensors.index.json or single .pth file; "
        "point RWKV_MTEB_MODEL_PATHS at an RWKV checkpoint folder"
    )


def declared_config(path: Path) -> dict[str, Any] | None:
    """The ``config.json`` beside a checkpoint, if any (its shapes are checked against the weights')."""
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    if not config_file.is_file():
        return None
    try:
        return json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_file} is not valid JSON ({exc})") from None


def assign_weights(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    path: Path,
    label: str,
    dtype: torch.dtype,
    device: str | torch.device,
    reshape_vectors: bool = False,
) -> nn.Module:
    """Put ``state`` into ``model`` (built on the meta device) after checking names and shapes against it;
    ``reshape_vectors``: tensors stored squeezed or flattened (same number of elements) take the model's shape."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: the weights do not match an {label} of this shape (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}); is the checkpoint complete?"
        )
    for key, tensor in expected.items():
        value = state[key]
        if reshape_vectors and tuple(value.shape) != tuple(tensor.shape) and value.numel() == tensor.numel():
            value = value.reshape(tensor.shape)
        if tuple(value.shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: tensor {key} has shape {tuple(value.shape)}, expected {tuple(tensor.shape)} from the other "
                "tensors; the checkpoint is inconsistent"
            )
        state[key] = value.to(device=device, dtype=dtype)
    model.load_state_dict(state, assign=True)
    return model.eval()


class RandomDraws:
    """Seeded draws for random checkpoints of either generation."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def normal(self, *shape: int, std: float) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen) * std

    def uniform(self, *shape: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen) * (high - low) + low

    def norm_pair(self, prefix: str, width: int) -> dict[str, torch.Tensor]:
        """A layer or group norm's affine: weight near 1, bias near 0, both nonzero."""
        return {f"{prefix}.weight": 1 + self.normal(width, std=0.1), f"{prefix}.bias": self.normal(width, std=0.1)}
