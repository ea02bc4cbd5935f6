"""Padding-free batches for a recurrent model: which positions to run with which rows.

A right-padded batch makes every sequence pay for the longest one, although a recurrent model never needs a
position after a sequence has ended. With the rows sorted longest first, the rows still running at position
``s`` are a prefix of the batch, so the batch can run as a few segments of positions, each with only the rows
that are still running, the recurrent state of those rows carried over from the previous segment.

Cutting at every distinct length wastes nothing but runs many small segments, and each segment pays a fixed
price (every weight is read once, every kernel launched once) worth roughly ``overhead`` row-positions of
compute. :func:`plan_segments` picks the cuts that minimise ``segments x overhead + rows x positions``
(a small dynamic program over the distinct lengths), so a rare long sentence leaves the batch early and a
cluster of nearly equal lengths runs as one segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

# the fixed price of one segment, in row-positions: about where a GEMM turns from memory- to compute-bound
OVERHEAD = {"cpu": 32, "cuda": 256}


@dataclass(frozen=True)
class Segment:
    start: int  # first position
    end: int  # one past the last position
    rows: int  # the first ``rows`` rows (longest first) still run


def plan_segments(lengths: list[int], overhead: float, max_positions: int | None = None) -> list[Segment]:
    """Segments covering positions 0..max(lengths) for rows sorted by length, longest first."""
    if not lengths:
        return []
    if any(a < b for a, b in pairwise(lengths)):
        raise ValueError("plan_segments needs the lengths sorted longest first")

    def running(position: int) -> int:  # rows whose sequence goes on past ``position``
        return sum(1 for n in lengths if n > position)

    cuts = [0, *sorted(set(lengths))]
    best = [0.0] + [float("inf")] * (len(cuts) - 1)
    came_from = [0] * len(cuts)
    for j in range(1, len(cuts)):
        for i in range(j):
            cost = best[i] + overhead + running(cuts[i]) * (cuts[j] - cuts[i])
            if cost < best[j]:
                best[j], came_from[j] = cost, i
    ends = [len(cuts) - 1]
    while ends[-1]:
        ends.append(came_from[ends[-1]])
    bounds = [cuts[k] for k in reversed(ends)]

    segments = []
    for start, end in pairwise(bounds):
        step = max_positions or end - start
        for s in range(start, end, step):  # long inputs also run in bounded pieces, the state carried over
            segments.append(Segment(s, min(s + step, end), running(s)))
    return segments
