"""Rows a sweep computed in this process, kept in memory for the evaluations of its variants (the same keys and
vectors as the vector cache; bounded, and gone when the sweep is): each variant's MTEB evaluation reads its
texts here instead of reading every row back from disk."""

from __future__ import annotations

import numpy as np


class Memo:
    """Up to ``max_bytes`` of rows; later rows are read from the cache as usual."""

    def __init__(self, max_bytes: int = 4 * 10**9) -> None:
        self.max_bytes, self.bytes = max_bytes, 0
        self.rows: dict[str, tuple[list[int], np.ndarray]] = {}

    def put(self, rows: dict[str, np.ndarray], layer_ids: list[int]) -> None:
        for key, row in rows.items():
            if self.bytes + row.nbytes > self.max_bytes:
                return
            if key not in self.rows:
                self.rows[key] = (layer_ids, row)
                self.bytes += row.nbytes

    def get(self, keys: list[str], layers: list[int]) -> dict[str, np.ndarray]:
        out = {}
        for key in keys:
            hit = self.rows.get(key)
            if hit is not None and set(layers) <= set(hit[0]):
                out[key] = hit[1][[hit[0].index(layer) for layer in layers]]
        return out
