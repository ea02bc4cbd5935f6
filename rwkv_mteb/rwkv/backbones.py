"""The language models behind the layer-wise encoder, behind one interface: token ids in, pooled hidden
states of the requested layers out.

- ``NativeRwkv6``: our exact RWKV-6 (:mod:`rwkv_mteb.rwkv.modeling_rwkv6`); long inputs run in chunks with
  the recurrent state carried over, and the forward pass stops after the deepest requested layer.
- ``TransformersModel``: any transformers model that returns hidden states (RWKV-4 ``RwkvModel``, GPT-2,
  Pythia, Mamba, ...). RWKV-4's inference-time halving of the hidden state every ``rescale_every`` blocks is
  switched off, so layers keep their true scale and can be averaged or concatenated.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from rwkv_mteb.rwkv.checkpoint import VOCAB_FILE, CheckpointError, load_rwkv6, weight_files
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Model
from rwkv_mteb.rwkv.pooling import PoolAccumulator
from rwkv_mteb.rwkv.tokenizers import HFTokenizer, WorldTokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pad_right(ids: list[list[int]], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    batch = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return batch.to(device), lengths.to(device)


def _file_digest(path: Path) -> str:
    """Size plus the first and last MiB: cheap, and changes whenever a checkpoint file is replaced."""
    digest = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        if path.stat().st_size > 1 << 21:
            handle.seek(-(1 << 20), 2)
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def _check_layers(layers: list[int], available: int, source: object) -> None:
    bad = [k for k in layers if not 0 <= k < available]
    if bad:
        raise CheckpointError(
            f"layer(s) {bad} do not exist in {source}: it has hidden states 0..{available - 1}; choose layers "
            "in that range"
        )


class NativeRwkv6:
    family = "rwkv6"

    def __init__(self, source: Path, dtype: str = "float32", device: str = "cpu", chunk_tokens: int = 1024) -> None:
        if dtype not in DTYPES:
            raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {list(DTYPES)}")
        self.source, self.dtype, self.device, self.chunk_tokens = Path(source), dtype, device, chunk_tokens
        self.model = load_rwkv6(self.source, dtype=DTYPES[dtype], device=device, with_head=False)
        folder = self.source if self.source.is_dir() else self.source.parent
        vocab = folder / VOCAB_FILE
        self.tokenizer = WorldTokenizer(vocab if vocab.is_file() else None)
        self.num_hidden_states = self.model.num_hidden_states
        self.hidden_size = self.model.config.hidden_size

    @classmethod
    def from_model(cls, model: Rwkv6Model, device: str = "cpu", chunk_tokens: int = 1024) -> NativeRwkv6:
        """A backbone around a model already in memory (benchmarks build random ones without a file)."""
        backbone = cls.__new__(cls)
        backbone.source, backbone.device, backbone.chunk_tokens = Path("in-memory"), device, chunk_tokens
        backbone.dtype = str(model.rwkv.embeddings.weight.dtype).removeprefix("torch.")
        backbone.model, backbone.tokenizer = model, WorldTokenizer()
        backbone.num_hidden_states = model.num_hidden_states
        backbone.hidden_size = model.config.hidden_size
        return backbone

    def fingerprint(self) -> str:
        parts = [self.family, self.dtype, json.dumps(self.model.config.to_hf_dict(), sort_keys=True)]
        parts += [_file_digest(f) for f in weight_files(self.source)[1]]
        parts.append(_file_digest(self.tokenizer.vocab_file))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]

    @torch.no_grad()
    def pooled(self, ids: list[list[int]], layers: list[int], pooling: str) -> torch.Tensor:
        _check_layers(layers, self.num_hidden_states, self.source)
        tokens, lengths = pad_right(ids, self.device)
        vocab = self.model.config.vocab_size
        if int(tokens.max()) >= vocab:
            raise CheckpointError(
                f"the tokenizer produced id {int(tokens.max())}, but {self.source} has only {vocab} embeddings; "
                f"the checkpoint needs the World vocabulary (65536 rows) or its own {VOCAB_FILE}"
            )
        slots = {layer: i for i, layer in enumerate(layers)}
        deepest = max(layers)
        acc = PoolAccumulator(pooling, lengths, len(layers), self.hidden_size)
        state = self.model.initial_state(tokens.shape[0], tokens.device)
        for start in range(0, tokens.shape[1], self.chunk_tokens):
            chunk = tokens[:, start : start + self.chunk_tokens]
            for index, hidden in self.model.iter_hidden_states(chunk, state):
                if index in slots:
                    acc.add(slots[index], hidden, start)
                if index >= deepest:
                    break
        return acc.result()

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(self.model.config.to_hf_dict(), indent=2) + "\n")
        self.tokenizer.save(folder)


class TransformersModel:
    family = "transformers"

    def __init__(
        self,
        source: str | Path,
        dtype: str = "float32",
        device: str = "cpu",
        revision: str | None = None,
        local_only: bool = False,
    ) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        if dtype not in DTYPES:
            raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {list(DTYPES)}")
        self.source, self.dtype, self.device, self.revision = str(source), dtype, device, revision
        kwargs = {"revision": revision, "local_files_only": local_only}
        config = AutoConfig.from_pretrained(self.source, **kwargs)
        if getattr(config, "model_type", "") == "rwkv":
            config.rescale_every = 0  # keep every layer at its true scale (see the module docstring)
        self.model = AutoModel.from_pretrained(self.source, config=config, dtype=DTYPES[dtype], **kwargs)
        self.model.to(device).eval()
        self.tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(self.source, **kwargs))
        self.num_hidden_states = config.num_hidden_layers + 1
        self.hidden_size = config.hidden_size
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_tokens = int(limit) if limit else None

    def fingerprint(self) -> str:
        path = Path(self.source)
        parts = [self.family, self.dtype, self.source, str(self.revision)]
        if path.is_dir():
            parts += [_file_digest(f) for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]

    @torch.no_grad()
    def pooled(self, ids: list[list[int]], layers: list[int], pooling: str) -> torch.Tensor:
        _check_layers(layers, self.num_hidden_states, self.source)
        if self.max_tokens:
            ids = [seq[: self.max_tokens] for seq in ids]
        tokens, lengths = pad_right(ids, self.device)
        mask = (torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]).long()
        out = self.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True)
        acc = PoolAccumulator(pooling, lengths, len(layers), self.hidden_size)
        for slot, layer in enumerate(layers):
            acc.add(slot, out.hidden_states[layer].float(), 0)
        return acc.result()

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save(folder)
