"""Masked pooling of hidden states, accumulated chunk by chunk so a long input never needs all its positions
in memory at once.

Each row pools the positions ``start .. length-1`` of its input: ``start`` is 0 for a plain text, and the first
token of the last copy of the text under a prompt template (:mod:`rwkv_mteb.layerwise.prompts`), so an echo
embedding pools only the second copy and an instruction prefix is context, not content.
"""

from __future__ import annotations

import torch

from rwkv_mteb.layerwise.variants import check_pooling


class PoolAccumulator:
    """Pools several layers of a right-padded batch, one chunk of positions at a time."""

    def __init__(
        self,
        pooling: str,
        lengths: torch.Tensor,
        n_layers: int,
        width: int,
        starts: torch.Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.pooling = check_pooling(pooling)
        self.lengths = lengths  # (B,), every length >= 1
        self.starts = torch.zeros_like(lengths) if starts is None else starts  # (B,), each < its length
        batch = lengths.shape[0]
        fill = float("-inf") if pooling == "max" else 0.0
        self.acc = torch.full((batch, n_layers, width), fill, dtype=dtype, device=lengths.device)
        self.first = torch.zeros_like(self.acc) if pooling == "first_last" else None

    def add(self, slot: int, hidden: torch.Tensor, start: int) -> None:
        """hidden: (b, T, C) float32 for positions start .. start+T-1 of layer ``slot``, for the first b rows
        (a padding-free batch runs only the rows still going, longest first)."""
        rows, steps = hidden.shape[:2]
        lengths, starts, acc = self.lengths[:rows], self.starts[:rows], self.acc[:rows]
        positions = torch.arange(start, start + steps, device=hidden.device)
        valid = (positions[None, :] < lengths[:, None]) & (positions[None, :] >= starts[:, None])  # (b, T)
        if self.pooling == "mean":
            acc[:, slot] += (hidden * valid[..., None]).sum(1)
        elif self.pooling == "weighted_mean":  # SGPT's position weights: the i-th pooled token weighs i
            weights = (positions[None, :] - starts[:, None] + 1) * valid
            acc[:, slot] += (hidden * weights[..., None]).sum(1)
        elif self.pooling == "max":
            masked = hidden.masked_fill(~valid[..., None], float("-inf"))
            acc[:, slot] = torch.maximum(acc[:, slot], masked.amax(1))
        else:
            self._pick(acc[:, slot], hidden, lengths - 1 - start)
            if self.first is not None:
                self._pick(self.first[:rows, slot], hidden, starts - start)

    @staticmethod
    def _pick(into: torch.Tensor, hidden: torch.Tensor, offset: torch.Tensor) -> None:
        """into[r] = hidden[r, offset[r]] for the rows whose position falls in this chunk."""
        here = (offset >= 0) & (offset < hidden.shape[1])
        if here.any():
            hit = here.nonzero().squeeze(1)
            into[hit] = hidden[hit, offset[hit]]

    def result(self) -> torch.Tensor:
        """(B, n_layers, C)."""
        count = (self.lengths - self.starts).to(self.acc.dtype)[:, None, None]
        if self.pooling == "mean":
            return self.acc / count
        if self.pooling == "weighted_mean":
            return self.acc / (count * (count + 1) / 2)
        if self.pooling == "first_last":
            return (self.first + self.acc) / 2
        return self.acc
