"""The interface the layer-wise encoder needs of a language model: token ids in, pooled hidden states of the
requested layers out (:class:`Backbone`), and the helpers every backbone shares.

Each backbone is a ``torch.nn.Module`` holding the model as a submodule, so the ``SentenceTransformer`` built
on it moves, casts, counts and saves its weights like any other (``.to``, ``.half``, ``.parameters``).

A backbone knows what it is: ``identity`` is a digest of every byte of the files it was loaded from (or of its
state dict, for a model built in memory), and ``revision`` is how MTEB files its results: the hub commit for a
hub snapshot, else ``sha256-<digest>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rwkv_mteb.errors import CheckpointError, VariantError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.provenance.identity import content_digest, hub_commit, revision_of, state_dict_digest
from rwkv_mteb.rwkv.modeling_rwkv6 import stream_dtype

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pad_right(ids: list[list[int]], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
    batch = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return batch.to(device), lengths.to(device)


def span_starts(starts: list[int] | None, order: list[int], lengths: torch.Tensor) -> torch.Tensor:
    """Where each row's pooled span starts, in batch order (clamped inside a truncated input)."""
    if starts is None:
        return torch.zeros_like(lengths)
    begin = torch.tensor([starts[i] for i in order], dtype=torch.long, device=lengths.device)
    return torch.minimum(begin, lengths - 1)


def check_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise CheckpointError(f"unknown dtype {dtype!r}; choose one of {list(DTYPES)}")
    return DTYPES[dtype]


class Backbone(nn.Module):
    """What the layer-wise encoder needs of a language model."""

    family: ClassVar[str]
    tokenizer: Any  # WorldTokenizer, ByteTokenizer or HFTokenizer: ids of texts, plain pieces, special prefix
    num_hidden_states: int
    hidden_size: int

    def __init__(self, source: str | Path) -> None:
        super().__init__()
        self.source = source
        self._identity: str | None = None
        # True only while a backbone is trained (rwkv_mteb.training): forward passes then reach its weights
        self.differentiable = False

    @property
    def dtype(self) -> str:
        return str(next(self.parameters()).dtype).removeprefix("torch.")

    @property
    def stream_dtype(self) -> torch.dtype:
        """What hidden states are pooled in: float32, or float64 for a float64 model (gradient checks)."""
        return stream_dtype(next(self.parameters()).dtype)

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

    def pooled_width(self, pooling: str) -> int:
        """Width of one layer's vector under ``pooling`` (the hidden size, but for RWKV's state poolings)."""
        return self.hidden_size

    def pooled(
        self, ids: list[list[int]], layers: list[int], pooling: str, starts: list[int] | None = None
    ) -> torch.Tensor:
        """(B, len(layers), C): each row pooled over its positions ``starts[i]`` (default 0) to its end."""
        return self.pooled_many(ids, layers, (pooling,), starts)[pooling]

    def pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None = None
    ) -> dict[str, torch.Tensor]:
        """Several poolings of one forward pass (a sweep's mean and weighted mean cost one pass). No graph is
        built unless the backbone is being trained (:attr:`differentiable`) and gradients are on."""
        with torch.set_grad_enabled(self.differentiable and torch.is_grad_enabled()):
            return self._pooled_many(ids, layers, poolings, starts)

    def _pooled_many(
        self, ids: list[list[int]], layers: list[int], poolings: tuple[str, ...], starts: list[int] | None
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def token_batch(self, ids: list[list[int]], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, C) float hidden states of ``layer`` for a right-padded batch and its (B, T) attention mask: what
        a trained pooling head reads. Differentiable like :meth:`pooled_many`."""
        self.check_layers([layer])
        with torch.set_grad_enabled(self.differentiable and torch.is_grad_enabled()):
            return self._token_batch(ids, layer)

    def _token_batch(self, ids: list[list[int]], layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def token_states(self, ids: list[int], layers: list[int]) -> np.ndarray:
        """(len(layers), T, C) float32 hidden states of one text's tokens (the layer diagnostics' trajectories)."""
        raise NotImplementedError

    def token_states_many(self, ids: list[list[int]], layers: list[int]) -> list[np.ndarray]:
        """:meth:`token_states` of each text, in the caller's order (a backbone that can batch them overrides)."""
        return [self.token_states(one, layers) for one in ids]

    @contextmanager
    def intervened(self, intervention: Intervention) -> Iterator[None]:
        """Run the forward passes inside with ``intervention`` applied (:mod:`rwkv_mteb.interventions`)."""
        if intervention:
            raise VariantError(f"a {self.family} backbone cannot be intervened ({intervention.name})")
        yield

    def check_layers(self, layers: list[int]) -> None:
        bad = [k for k in layers if not 0 <= k < self.num_hidden_states]
        if bad:
            raise CheckpointError(
                f"layer(s) {bad} do not exist in {self.source}: it has hidden states 0..{self.num_hidden_states - 1}; "
                "choose layers in that range"
            )

    def save(self, folder: Path) -> None:
        raise NotImplementedError
