"""Our exact RWKV-6 and RWKV-7 (:mod:`rwkv_mteb.rwkv`) as a backbone: batches run padding-free (rows leave when
their sequence ends, :mod:`rwkv_mteb.backbones.segments`), long inputs in chunks with the recurrent state carried
over, the forward pass stops after the deepest requested layer, and the recurrent state after each row's last
token can be the pooling (:mod:`rwkv_mteb.backbones.state`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from rwkv_mteb.backbones.base import Backbone, check_dtype, pad_right, span_starts
from rwkv_mteb.backbones.pooling import PoolAccumulator
from rwkv_mteb.backbones.segments import OVERHEAD, plan_segments
from rwkv_mteb.backbones.state import STATE_POOLINGS, reduce_state, state_width
from rwkv_mteb.errors import CheckpointError
from rwkv_mteb.interventions.apply import on_rwkv
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.rwkv.checkpoint import VOCAB_FILE, load_rwkv, rwkv_generation, weight_files
from rwkv_mteb.rwkv.checkpoint_rwkv7 import blinkdl_to_fla
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Model
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Model
from rwkv_mteb.rwkv.tokenization_rwkv import ByteTokenizer, WorldTokenizer, rwkv_tokenizer


class NativeRwkv(Backbone):
    """Our exact RWKV-6 or RWKV-7 (the checkpoint says which): long inputs run in chunks with the recurrent
    state carried over, and the forward pass stops after the deepest requested layer."""

    def __init__(
        self, source: Path, dtype: str = "float32", device: str | torch.device = "cpu", chunk_tokens: int = 1024
    ) -> None:
        super().__init__(Path(source))
        self.chunk_tokens = chunk_tokens
        self.segment_overhead: float | None = None  # None: by device (segments.OVERHEAD); inf: one padded pass
        self.family = rwkv_generation(self.source)
        self.model = load_rwkv(self.source, dtype=check_dtype(dtype), device=device, with_head=False)
        folder = self.source if self.source.is_dir() else self.source.parent
        self.tokenizer = rwkv_tokenizer(folder, self._vocab_size())
        self._init_shape()

    def _vocab_size(self) -> int:
        return self.model.config.vocab_size

    def _init_shape(self) -> None:
        self.num_hidden_states = self.model.num_hidden_states
        self.hidden_size = self.model.config.hidden_size

    @classmethod
    def from_model(cls, model: Rwkv6Model | Rwkv7Model, chunk_tokens: int = 1024) -> NativeRwkv:
        """A backbone around a model already in memory; its identity is a digest of its state dict."""
        backbone = cls.__new__(cls)
        Backbone.__init__(backbone, "in-memory")
        backbone.chunk_tokens = chunk_tokens
        backbone.segment_overhead = None
        backbone.differentiable = False
        backbone.family = "rwkv7" if isinstance(model, Rwkv7Model) else "rwkv6"
        backbone.model = model
        backbone.tokenizer = ByteTokenizer() if model.config.vocab_size == 256 else WorldTokenizer()
        backbone._init_shape()
        return backbone

    def identity_files(self) -> tuple[list[Path], Path | None] | None:
        if not isinstance(self.source, Path):
            return None
        _, files = weight_files(self.source)
        folder = self.source if self.source.is_dir() else self.source.parent
        extra = [folder / "config.json"] if (folder / "config.json").is_file() else []
        vocab = [self.tokenizer.vocab_file] if self.tokenizer.vocab_file else []
        return [*files, *extra, *vocab], None

    @contextmanager
    def intervened(self, intervention: Intervention) -> Iterator[None]:
        with on_rwkv(self.model, intervention):
            yield

    def _pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None
    ) -> dict[str, torch.Tensor]:
        """Padding-free: rows sorted longest first run in segments (:mod:`segments`) and leave the batch once
        their sequence has ended; the recurrent state of the rest is carried over."""
        self.check_layers(layers)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        tokens, lengths = pad_right([ids[i] for i in order], self.device)
        begin = span_starts(starts, order, lengths)
        vocab = self.model.config.vocab_size
        if int(tokens.max()) >= vocab:
            raise CheckpointError(
                f"the tokenizer produced id {int(tokens.max())}, but {self.source} has only {vocab} embeddings; "
                f"give the checkpoint its own {VOCAB_FILE} (the World vocabulary needs 65536 rows)"
            )
        slots = {layer: i for i, layer in enumerate(layers)}
        deepest = max(layers)
        hidden_poolings = [p for p in poolings if p not in STATE_POOLINGS]
        width, dtype = self.hidden_size, self.stream_dtype
        accs = [PoolAccumulator(p, lengths, len(layers), width, begin, dtype) for p in hidden_poolings]
        states = {p: self._state_buffer(p, len(order), len(layers)) for p in poolings if p in STATE_POOLINGS}
        state = self.model.initial_state(tokens.shape[0], tokens.device)
        overhead = self.segment_overhead if self.segment_overhead is not None else OVERHEAD.get(self.device.type, 32)
        # a state pooling needs each row's state right after its own last token: cut at every length (no padding)
        overhead = 0 if states else overhead
        for segment in plan_segments([len(ids[i]) for i in order], overhead, self.chunk_tokens):
            state = [tuple(part[: segment.rows] for part in layer) for layer in state]  # views: rows leave
            chunk = tokens[: segment.rows, segment.start : segment.end]
            for index, hidden in self.model.iter_hidden_states(chunk, state):
                if index in slots:
                    for acc in accs:
                        acc.add(slots[index], hidden, segment.start)
                if index >= deepest:
                    break
            ending = (lengths[: segment.rows] == segment.end).nonzero().squeeze(1) if states else None
            for pooling, buffer in states.items():
                for layer, slot in slots.items():
                    block = min(layer, len(state) - 1)  # ln_out has no state of its own: the last block's
                    buffer[ending, slot] = reduce_state(pooling, tuple(part[ending] for part in state[block]))
        back = torch.tensor(order, device=tokens.device)
        results = dict(zip(hidden_poolings, (acc.result() for acc in accs), strict=True)) | states
        out = {}
        for pooling in poolings:
            out[pooling] = torch.empty_like(results[pooling])
            out[pooling][back] = results[pooling]  # back to the caller's order
        return out

    def _state_buffer(self, pooling: str, rows: int, layers: int) -> torch.Tensor:
        return torch.zeros(rows, layers, self.pooled_width(pooling), dtype=torch.float32, device=self.device)

    def pooled_width(self, pooling: str) -> int:
        if pooling not in STATE_POOLINGS:
            return self.hidden_size
        heads, size = self.model.config.num_heads, self.model.config.head_size
        return state_width(pooling, heads, size, self.hidden_size)

    def _token_batch(self, ids: list[list[int]], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens, lengths = pad_right(ids, self.device)  # right padding: no position sees a later one
        for index, hidden in self.model.iter_hidden_states(tokens, self.model.initial_state(len(ids), self.device)):
            if index == layer:
                return hidden, (torch.arange(tokens.shape[1], device=self.device)[None] < lengths[:, None]).long()
        raise AssertionError("unreachable: check_layers passed")

    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        return self.token_states_many([ids], layers)[0]

    @torch.no_grad()
    def token_states_many(self, ids: list[list[int]], layers: list[int], batch_size: int = 32) -> list[np.ndarray]:
        """Batches of similar lengths (longest first), right-padded: a recurrent model's position sees no later
        one, so each text's states are its own pass's up to float rounding (1e-7 relative on the tiny RWKV-7),
        at a third of the time of one text at a time (128 MRPC sentences, 2026-12-08)."""
        self.check_layers(layers)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: dict[int, np.ndarray] = {}
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            tokens, _ = pad_right([ids[i] for i in rows], self.device)
            found: dict[int, torch.Tensor] = {}
            for index, hidden in self.model.iter_hidden_states(
                tokens, self.model.initial_state(len(rows), self.device)
            ):
                if index in layers:
                    found[index] = hidden.float().cpu()
                if index >= max(layers):
                    break
            stacked = torch.stack([found[k] for k in layers], dim=1)  # (rows, layers, T, C)
            for row, i in enumerate(rows):
                out[i] = stacked[row, :, : len(ids[i])].numpy()
        return [out[i] for i in range(len(ids))]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in self.model.state_dict().items()}
        if self.family == "rwkv7":
            state = blinkdl_to_fla(state)
            config = self.model.config.to_dict()
        else:
            config = self.model.config.to_hf_dict()
        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        self.tokenizer.save(folder)
