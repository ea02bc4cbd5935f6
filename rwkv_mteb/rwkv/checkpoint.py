"""RWKV-6 checkpoints: reading the Hugging Face layout (single or sharded safetensors) and BlinkDL ``.pth``
files, checking them against their config, and writing random ones for tests and demos."""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import torch

from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Config, Rwkv6Model

VOCAB_FILE = "rwkv_vocab_v20230424.txt"


class CheckpointError(RwkvMtebError):
    """A checkpoint is missing, corrupt, truncated, or disagrees with its config."""


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


def _read_safetensors(
    files: list[Path],
    keep,
    dtype: torch.dtype | None = None,  # type: ignore[no-untyped-def]
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


def _read_pth(file: Path, keep) -> dict[str, torch.Tensor]:  # type: ignore[no-untyped-def]
    try:
        raw = torch.load(str(file), map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise CheckpointError(f"{file} is not a readable .pth checkpoint ({type(exc).__name__}: {exc})") from None
    return {_pth_to_hf(k): v for k, v in raw.items() if keep(_pth_to_hf(k))}


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
        "point RWKV_MTEB_MODEL_PATHS at an RWKV-6 checkpoint folder"
    )


def read_state_dict(path: Path, with_head: bool = False, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Floating-point tensors are converted to ``dtype`` as they are read (never two full copies)."""
    kind, files = weight_files(path)

    def keep(key: str) -> bool:
        return with_head or not key.startswith("head.")

    if kind == "safetensors":
        return _read_safetensors(files, keep, dtype)
    state = _read_pth(files[0], keep)
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


def load_rwkv6(
    path: Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu", with_head: bool = False
) -> Rwkv6Model:
    """Load without ever holding two copies of the weights (the model is built on the meta device)."""
    path = Path(path)
    declared = None
    config_file = (path if path.is_dir() else path.parent) / "config.json"
    if config_file.is_file():
        try:
            declared = json.loads(config_file.read_text())
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{config_file} is not valid JSON ({exc})") from None
    state = read_state_dict(path, with_head=with_head, dtype=dtype)
    config = infer_config(state, declared, path)
    with torch.device("meta"):
        model = Rwkv6Model(config, with_head=with_head and "head.weight" in state)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: the weights do not match an RWKV-6 of this shape (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}); is the checkpoint complete?"
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{path}: tensor {key} has shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)} "
                "from the other tensors; the checkpoint is inconsistent"
            )
        state[key] = state[key].to(device=device, dtype=dtype)
    model.load_state_dict(state, assign=True)
    return model.eval()


# --------------------------------------------------------------------------- random checkpoints


class RandomDraws:
    """Seeded draws for random checkpoints (RWKV-6 here, RWKV-7 in ``checkpoint7``)."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)

    def normal(self, *shape: int, std: float) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen) * std

    def uniform(self, *shape: int, low: float, high: float) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen) * (high - low) + low

    def norm_pair(self, prefix: str, width: int) -> dict[str, torch.Tensor]:
        """A layer or group norm's affine: weight near 1, bias near 0, both nonzero."""
        return {f"{prefix}.weight": 1 + self.normal(width, std=0.1), f"{prefix}.bias": self.normal(width, std=0.1)}


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


def world_vocab_file() -> Path:
    import pyrwkv_tokenizer

    return Path(pyrwkv_tokenizer.__file__).parent / VOCAB_FILE


def write_checkpoint(out: Path, config: Rwkv6Config, state: dict[str, torch.Tensor], fmt: str = "hf") -> Path:
    """HF layout (config.json, model.safetensors, tokenizer files) or BlinkDL's (``model.pth``)."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: t.contiguous() for k, t in state.items()}
    if fmt == "hf":
        save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(config.to_hf_dict(), indent=2) + "\n")
        (out / "tokenizer_config.json").write_text(
            json.dumps({"tokenizer_class": "Rwkv6Tokenizer", "vocab_file": VOCAB_FILE}, indent=2) + "\n"
        )
        written = out
    elif fmt == "pth":
        torch.save({_hf_to_pth(k): t for k, t in state.items()}, out / "model.pth")
        written = out / "model.pth"
    else:
        raise RwkvMtebError(f"unknown checkpoint format {fmt!r}; use 'hf' or 'pth'")
    shutil.copyfile(world_vocab_file(), out / VOCAB_FILE)
    return written


def make_checkpoint(
    out: Path,
    layers: int,
    hidden: int,
    head_size: int = 64,
    vocab: int = 65536,
    seed: int = 0,
    fmt: str = "hf",
    ffn: int | None = None,
) -> Path:
    if hidden % head_size:
        raise RwkvMtebError(f"--hidden {hidden} must be a multiple of the head size {head_size}")
    config = Rwkv6Config(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        attention_hidden_size=hidden,
        head_size=head_size,
        intermediate_size=ffn,
    )
    return write_checkpoint(out, config, random_state_dict(config, seed), fmt)
