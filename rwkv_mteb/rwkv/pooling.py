"""Masked pooling of hidden states, accumulated chunk by chunk so a long input never needs all its positions
in memory at once."""

from __future__ import annotations

import torch

POOLINGS = ("mean", "max", "last", "first_last")


class PoolAccumulator:
    """Pools several layers of a right-padded batch, one chunk of positions at a time."""

    def __init__(self, pooling: str, lengths: torch.Tensor, n_layers: int, width: int) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {POOLINGS}")
        self.pooling = pooling
        self.lengths = lengths  # (B,), every length >= 1
        batch = lengths.shape[0]
        fill = float("-inf") if pooling == "max" else 0.0
        self.acc = torch.full((batch, n_layers, width), fill, dtype=torch.float32, device=lengths.device)
        self.first = torch.zeros_like(self.acc) if pooling == "first_last" else None

    def add(self, slot: int, hidden: torch.Tensor, start: int) -> None:
        """hidden: (b, T, C) float32 for positions start .. start+T-1 of layer ``slot``, for the first b rows
        (a padding-free batch runs only the rows still going, longest first)."""
        rows, steps = hidden.shape[:2]
        lengths, acc = self.lengths[:rows], self.acc[:rows]
        positions = torch.arange(start, start + steps, device=hidden.device)
        valid = positions[None, :] < lengths[:, None]  # (b, T)
        if self.pooling == "mean":
            acc[:, slot] += (hidden * valid[..., None]).sum(1)
        elif self.pooling == "max":
            masked = hidden.masked_fill(~valid[..., None], float("-inf"))
            acc[:, slot] = torch.maximum(acc[:, slot], masked.amax(1))
        else:
            last = lengths - 1 - start
            here = (last >= 0) & (last < steps)
            if here.any():
                hit = here.nonzero().squeeze(1)
                acc[hit, slot] = hidden[hit, last[hit]]
            if self.first is not None and start == 0:
                self.first[:rows, slot] = hidden[:, 0]

    def result(self) -> torch.Tensor:
        """(B, n_layers, C)."""
        if self.pooling == "mean":
            return self.acc / self.lengths[:, None, None].to(self.acc.dtype)
        if self.pooling == "first_last":
            return (self.first + self.acc) / 2
        return self.acc
