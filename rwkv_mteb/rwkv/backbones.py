"""The language models behind the layer-wise encoder, behind one interface: token ids in, pooled hidden
states of the requested layers out.

Each backbone is a ``torch.nn.Module`` holding the model as a submodule, so the ``SentenceTransformer`` built
on it moves, casts, counts and saves its weights like any other (``.to``, ``.half``, ``.parameters``).

- ``NativeRwkv``: our exact RWKV-6 and RWKV-7 (:mod:`rwkv_mteb.rwkv.modeling_rwkv6`, ``modeling_rwkv7``); batches
  run padding-free (rows leave when their sequence ends, :mod:`segments`), long inputs in chunks with the recurrent
  state carried over, and the forward pass stops after the deepest requested layer.
- ``TransformersModel``: any transformers model that returns hidden states (RWKV-4 ``RwkvModel``, GPT-2,
  Pythia, Mamba, ...), from a folder, the hub, or a GGUF file (dequantized by transformers). RWKV-4's
  inference-time halving of the hidden state every ``rescale_every`` blocks is switched off, so layers keep their
  true scale and can be averaged or concatenated.

A backbone knows what it is: ``identity`` is a digest of every byte of the files it was loaded from (or of its
state dict, for a model built in memory), and ``revision`` is how MTEB files its results: the hub commit for a
hub snapshot, else ``sha256-<digest>``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from rwkv_mteb.identity import content_digest, hub_commit, path_digest, revision_of, state_dict_digest
from rwkv_mteb.rwkv.checkpoint import VOCAB_FILE, CheckpointError, load_rwkv6, weight_files
from rwkv_mteb.rwkv.checkpoint7 import blinkdl_to_fla, is_rwkv7, load_rwkv7
from rwkv_mteb.rwkv.modeling_rwkv6 import Rwkv6Model
from rwkv_mteb.rwkv.modeling_rwkv7 import Rwkv7Model
from rwkv_mteb.rwkv.pooling import PoolAccumulator
from rwkv_mteb.rwkv.segments import OVERHEAD, plan_segments
from rwkv_mteb.rwkv.tokenizers import ByteTokenizer, HFTokenizer, WorldTokenizer, rwkv_tokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pad_right(ids: list[list[int]], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    batch = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return batch.to(device), lengths.to(device)


def gguf_quantization(path: Path) -> str:
    """The quantization a GGUF file declares (``general.file_type``), e.g. ``q4_1``."""
    from gguf import GGUFReader, LlamaFileType

    field = GGUFReader(str(path)).fields["general.file_type"]
    return LlamaFileType(int(field.parts[field.data[0]][0])).name.removeprefix("MOSTLY_").lower()


def _starts(starts: list[int] | None, order: list[int], lengths: torch.Tensor) -> torch.Tensor:
    """Where each row's pooled span starts, in batch order (clamped inside a truncated input)."""
    if starts is None:
        return torch.zeros_like(lengths)
    begin = torch.tensor([starts[i] for i in order], dtype=torch.long, device=lengths.device)
    return torch.minimum(begin, lengths - 1)


def _check_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {list(DTYPES)}")
    return DTYPES[dtype]


class Backbone(nn.Module):
    """What the layer-wise encoder needs of a language model."""

    family: ClassVar[str]
    tokenizer: WorldTokenizer | ByteTokenizer | HFTokenizer
    num_hidden_states: int
    hidden_size: int

    def __init__(self, source: str | Path) -> None:
        super().__init__()
        self.source = source
        self._identity: str | None = None

    @property
    def dtype(self) -> str:
        return str(next(self.parameters()).dtype).removeprefix("torch.")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def identity_files(self) -> tuple[list[Path], Path | None] | None:
        """The files the weights and tokenizer came from (and the folder names are relative to), or None."""
        return None

    @property
    def identity(self) -> str:
        """A digest of what produces this backbone's vectors: its files, or its state dict when built in memory."""
        if self._identity is None:
            files = self.identity_files()
            if files is not None:
                self._identity = content_digest(*files)
            else:
                self._identity = state_dict_digest(self.state_dict())
        return self._identity

    @property
    def revision(self) -> str:
        """The weights' hub commit or content digest, then any precision change: ``-bfloat16`` when the model
        runs in another dtype than float32, so results of a cast model are never filed as the original's."""
        commit = hub_commit(Path(self.source)) if isinstance(self.source, Path) else None
        return self._with_dtype(commit or revision_of(self.identity))

    def _with_dtype(self, revision: str) -> str:
        return revision if self.dtype == "float32" else f"{revision}-{self.dtype}"

    def cache_name(self) -> str:
        """The vector cache file of this backbone in its current dtype (casting the model changes vectors)."""
        return hashlib.sha256(f"{self.family}\0{self.identity}\0{self.dtype}".encode()).hexdigest()[:32]

    def pooled(
        self, ids: list[list[int]], layers: list[int], pooling: str, starts: list[int] | None = None
    ) -> torch.Tensor:
        """(B, len(layers), C): each row pooled over its positions ``starts[i]`` (default 0) to its end."""
        return self.pooled_many(ids, layers, (pooling,), starts)[pooling]

    def pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None = None
    ) -> dict[str, torch.Tensor]:
        """Several poolings of one forward pass (a sweep's mean and weighted mean cost one pass)."""
        raise NotImplementedError

    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        """(len(layers), T, C) float32 hidden states of one text's tokens (the layer diagnostics' trajectories)."""
        raise NotImplementedError

    def check_layers(self, layers: list[int]) -> None:
        bad = [k for k in layers if not 0 <= k < self.num_hidden_states]
        if bad:
            raise CheckpointError(
                f"layer(s) {bad} do not exist in {self.source}: it has hidden states 0..{self.num_hidden_states - 1}; "
                "choose layers in that range"
            )

    def save(self, folder: Path) -> None:
        raise NotImplementedError


class NativeRwkv(Backbone):
    """Our exact RWKV-6 or RWKV-7 (the checkpoint says which): long inputs run in chunks with the recurrent
    state carried over, and the forward pass stops after the deepest requested layer."""

    def __init__(
        self, source: Path, dtype: str = "float32", device: str | torch.device = "cpu", chunk_tokens: int = 1024
    ) -> None:
        super().__init__(Path(source))
        self.chunk_tokens = chunk_tokens
        self.segment_overhead: float | None = None  # None: by device (segments.OVERHEAD); inf: one padded pass
        self.family = "rwkv7" if is_rwkv7(self.source) else "rwkv6"
        load = load_rwkv7 if self.family == "rwkv7" else load_rwkv6
        self.model = load(self.source, dtype=_check_dtype(dtype), device=device, with_head=False)
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

    @torch.no_grad()
    def pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None = None
    ) -> dict[str, torch.Tensor]:
        """Padding-free: rows sorted longest first run in segments (:mod:`segments`) and leave the batch once
        their sequence has ended; the recurrent state of the rest is carried over."""
        self.check_layers(layers)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        tokens, lengths = pad_right([ids[i] for i in order], self.device)
        begin = _starts(starts, order, lengths)
        vocab = self.model.config.vocab_size
        if int(tokens.max()) >= vocab:
            raise CheckpointError(
                f"the tokenizer produced id {int(tokens.max())}, but {self.source} has only {vocab} embeddings; "
                f"give the checkpoint its own {VOCAB_FILE} (the World vocabulary needs 65536 rows)"
            )
        slots = {layer: i for i, layer in enumerate(layers)}
        deepest = max(layers)
        accs = [PoolAccumulator(p, lengths, len(layers), self.hidden_size, begin) for p in poolings]
        state = self.model.initial_state(tokens.shape[0], tokens.device)
        overhead = self.segment_overhead if self.segment_overhead is not None else OVERHEAD.get(self.device.type, 32)
        for segment in plan_segments([len(ids[i]) for i in order], overhead, self.chunk_tokens):
            state = [tuple(part[: segment.rows] for part in layer) for layer in state]  # views: rows leave
            chunk = tokens[: segment.rows, segment.start : segment.end]
            for index, hidden in self.model.iter_hidden_states(chunk, state):
                if index in slots:
                    for acc in accs:
                        acc.add(slots[index], hidden, segment.start)
                if index >= deepest:
                    break
        back = torch.tensor(order, device=tokens.device)
        out = {}
        for pooling, acc in zip(poolings, accs, strict=True):
            result = acc.result()
            out[pooling] = torch.empty_like(result)
            out[pooling][back] = result  # back to the caller's order
        return out

    @torch.no_grad()
    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        self.check_layers(layers)
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)
        found: dict[int, torch.Tensor] = {}
        for index, hidden in self.model.iter_hidden_states(tokens, self.model.initial_state(1, tokens.device)):
            if index in layers:
                found[index] = hidden[0].float().cpu()
            if index >= max(layers):
                break
        return torch.stack([found[k] for k in layers]).numpy()

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

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


class TransformersModel(Backbone):
    family = "transformers"

    def __init__(
        self,
        source: str | Path,
        dtype: str = "float32",
        device: str | torch.device = "cpu",
        revision: str | None = None,
        local_only: bool = False,
    ) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        gguf = Path(source).suffix == ".gguf" and Path(source).is_file()
        local = gguf or Path(source).is_dir()
        super().__init__(Path(source) if local else str(source))
        # a GGUF file (weights and tokenizer in one file; transformers dequantizes it) is read from its folder
        where = str(Path(source).parent) if gguf else str(source)
        kwargs = {"revision": revision, "local_files_only": local_only}
        if gguf:
            kwargs["gguf_file"] = Path(source).name
        config = AutoConfig.from_pretrained(where, **kwargs)
        if getattr(config, "model_type", "") == "rwkv":
            config.rescale_every = 0  # keep every layer at its true scale (see the module docstring)
        self.model = AutoModel.from_pretrained(where, config=config, dtype=_check_dtype(dtype), **kwargs)
        self.model.to(device).eval()
        has_tokenizer = (
            not local
            or gguf
            or any((Path(source) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))
        )
        if not has_tokenizer and config.vocab_size == 256:  # byte-level (e.g. rwkv.cpp's test models)
            self.tokenizer = ByteTokenizer()
        else:
            self.tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(where, **kwargs))
        # a model read from the hub is identified by the commit it came from
        self._hub_commit = None if local else getattr(config, "_commit_hash", None) or revision
        self.gguf_type = gguf_quantization(Path(source)) if gguf else None
        self.num_hidden_states = config.num_hidden_layers + 1
        self.hidden_size = config.hidden_size
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        self.max_tokens = int(limit) if limit else None

    @property
    def identity(self) -> str:
        if self._identity is None and isinstance(self.source, Path):
            self._identity = path_digest(self.source)
        elif self._identity is None and self._hub_commit:
            self._identity = hashlib.sha256(f"hub\0{self.source}\0{self._hub_commit}".encode()).hexdigest()
        return super().identity

    @property
    def revision(self) -> str:
        """A GGUF file's results are filed as ``gguf-<quantization>-sha256-...``: never as the hub model's."""
        if self._hub_commit:
            return self._with_dtype(self._hub_commit)
        if self.gguf_type:
            return self._with_dtype(f"gguf-{self.gguf_type}-{revision_of(self.identity)}")
        return super().revision

    @torch.no_grad()
    def pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None = None
    ) -> dict[str, torch.Tensor]:
        self.check_layers(layers)
        if self.max_tokens:
            ids = [seq[: self.max_tokens] for seq in ids]
        tokens, lengths = pad_right(ids, self.device)
        begin = _starts(starts, list(range(len(ids))), lengths)
        mask = (torch.arange(tokens.shape[1], device=tokens.device)[None] < lengths[:, None]).long()
        out = self.model(input_ids=tokens, attention_mask=mask, output_hidden_states=True)
        result = {}
        for pooling in poolings:
            acc = PoolAccumulator(pooling, lengths, len(layers), self.hidden_size, begin)
            for slot, layer in enumerate(layers):
                acc.add(slot, out.hidden_states[layer].float(), 0)
            result[pooling] = acc.result()
        return result

    @torch.no_grad()
    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        self.check_layers(layers)
        ids = ids[: self.max_tokens] if self.max_tokens else ids
        tokens = torch.tensor([ids], dtype=torch.long, device=self.device)
        hidden = self.model(input_ids=tokens, output_hidden_states=True).hidden_states
        return torch.stack([hidden[k][0].float().cpu() for k in layers]).numpy()

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save(folder)
