"""Linear CKA (Kornblith et al., ICML 2019, "Similarity of Neural Network Representations Revisited", eq. for the
linear kernel): for column-centred X (n x p) and Y (n x q) of the same n inputs,
CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F). 1 for a representation and any orthogonal transform or rescaling
of it; invariant to the width of either side, so layers of different models compare at equal relative depth."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA needs the same inputs on both sides ({x.shape[0]} vs {y.shape[0]} rows)")
    x = x - x.mean(0)
    y = y - y.mean(0)
    # ||Y^T X||_F^2 through the n x n Gram matrices when that is smaller
    if x.shape[0] < min(x.shape[1], y.shape[1]):
        kx, ky = x @ x.T, y @ y.T
        cross, nx, ny = (kx * ky).sum(), np.linalg.norm(kx), np.linalg.norm(ky)
    else:
        cross, nx, ny = np.linalg.norm(y.T @ x) ** 2, np.linalg.norm(x.T @ x), np.linalg.norm(y.T @ y)
    return float(cross / (nx * ny)) if nx > 0 and ny > 0 else float("nan")


def finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def cka_matrix(layers: list[np.ndarray], others: list[np.ndarray] | None = None) -> list[list[float | None]]:
    """CKA between every pair of representations (layers of one model, or of two); None where undefined (a
    constant representation)."""
    others = layers if others is None else others
    return [[finite(linear_cka(a, b)) for b in others] for a in layers]
