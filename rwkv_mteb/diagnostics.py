"""Layer diagnostics the seed paper proposed but did not make: per layer, anisotropy (mean cosine of unrelated
sentences), the entropy and effective rank of the embedding spectrum, and the mean norm."""

from __future__ import annotations

import numpy as np


def layer_diagnostics(vectors: np.ndarray, seed: int = 0, pairs: int = 5000) -> list[dict[str, float]]:
    """vectors: (sentences, layers, dim) pooled embeddings of distinct sentences."""
    n, layers, _ = vectors.shape
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = (a + rng.integers(1, n, pairs)) % n  # never the same sentence
    out = []
    for layer in range(layers):
        x = vectors[:, layer, :].astype(np.float64)
        norms = np.linalg.norm(x, axis=1)
        unit = x / np.where(norms > 0, norms, 1)[:, None]
        anisotropy = float(np.mean(np.sum(unit[a] * unit[b], axis=1)))
        singular = np.linalg.svd(x - x.mean(0), compute_uv=False)
        energy = singular**2
        p = energy / energy.sum() if energy.sum() > 0 else np.full_like(energy, 1 / len(energy))
        entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
        out.append(
            {
                "layer": layer,
                "anisotropy": anisotropy,
                "spectrum_entropy": entropy,
                "effective_rank": float(np.exp(entropy)),
                "mean_norm": float(norms.mean()),
            }
        )
    return out
