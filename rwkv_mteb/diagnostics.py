"""Label-free layer metrics, the ones *Layer by Layer* (Skean et al., ICML 2025) relates to task scores, computed
per layer on a seeded sample of the swept texts.

- ``dataset_entropy``: matrix-based Renyi entropy of the Gram matrix of the sample's pooled vectors.
- ``prompt_entropy``: the same on each text's token states (the pooled span), averaged over texts.
- ``curvature``: mean angle between successive steps of a text's token trajectory (0: a straight line, pi: it
  turns back at every step), averaged over texts.
- ``effective_rank`` (exp of the entropy of the centred spectrum's energy), ``anisotropy`` (mean cosine of
  unrelated texts), ``intrinsic_dimension`` (TwoNN, Facco et al. 2017) and ``mean_norm``.

Entropies are divided by log(n) of their matrix (n texts or tokens), so 1 means n orthogonal rows of equal norm
and 0 means one direction; that keeps texts of different lengths comparable. ``alpha`` is the Renyi order (1 is
Shannon's entropy of the eigenvalues).
"""

from __future__ import annotations

import numpy as np

ALPHA = 1.0


def renyi_entropy(rows: np.ndarray, alpha: float = ALPHA) -> float:
    """Normalized Renyi entropy of the trace-normalized Gram matrix of ``rows`` (n, d); nan for n < 2 or all-zero
    rows."""
    n = rows.shape[0]
    if n < 2:
        return float("nan")
    singular = np.linalg.svd(rows.astype(np.float64), compute_uv=False)  # Gram eigenvalues = singular values^2
    eig = singular**2
    if eig.sum() <= 0:
        return float("nan")
    p = eig[eig > 0] / eig.sum()
    entropy = -np.sum(p * np.log(p)) if alpha == 1 else np.log(np.sum(p**alpha)) / (1 - alpha)
    return float(entropy / np.log(n))


def prompt_entropy(per_text: list[np.ndarray], alpha: float = ALPHA) -> float:
    """Mean over texts of the entropy of their token states (T, d); texts of one token do not count."""
    values = [renyi_entropy(z, alpha) for z in per_text if z.shape[0] >= 2]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def trajectory_curvature(z: np.ndarray) -> float:
    """Mean angle (radians) between successive steps z[k+1]-z[k] of one trajectory (T >= 3); zero steps skipped."""
    steps = np.diff(z.astype(np.float64), axis=0)
    norms = np.linalg.norm(steps, axis=1)
    keep = norms > 0
    steps, norms = steps[keep], norms[keep]
    if len(steps) < 2:
        return float("nan")
    cos = np.sum(steps[:-1] * steps[1:], axis=1) / (norms[:-1] * norms[1:])
    return float(np.mean(np.arccos(np.clip(cos, -1.0, 1.0))))


def curvature(per_text: list[np.ndarray]) -> float:
    values = [trajectory_curvature(z) for z in per_text if z.shape[0] >= 3]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def two_nn_dimension(x: np.ndarray) -> float:
    """TwoNN maximum-likelihood intrinsic dimension: n / sum(log(r2 / r1)) over points with distinct neighbours."""
    x = x.astype(np.float64)
    sq = np.sum(x * x, axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0))
    np.fill_diagonal(dist, np.inf)
    dist[dist <= 1e-12 * max(float(np.sqrt(sq.max())), 1.0)] = np.inf  # duplicates are not neighbours
    nearest = np.sort(dist, axis=1)[:, :2]
    ok = np.isfinite(nearest).all(1) & (nearest[:, 0] > 0)
    mu = nearest[ok, 1] / nearest[ok, 0]
    total = np.sum(np.log(mu))
    return float(ok.sum() / total) if ok.sum() >= 2 and total > 0 else float("nan")


def anisotropy(x: np.ndarray, seed: int = 0, pairs: int = 5000) -> float:
    """Mean cosine similarity of random pairs of different texts."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = (a + rng.integers(1, n, pairs)) % n  # never the same text
    norms = np.linalg.norm(x, axis=1)
    unit = x / np.where(norms > 0, norms, 1)[:, None]
    return float(np.mean(np.sum(unit[a] * unit[b], axis=1)))


def effective_rank(x: np.ndarray) -> float:
    """exp of the entropy of the centred spectrum's energy: how many directions the vectors really use."""
    energy = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    if energy.sum() <= 0:
        return 1.0
    p = energy[energy > 0] / energy.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def layer_diagnostics(vectors: np.ndarray, seed: int = 0, alpha: float = ALPHA) -> list[dict[str, float]]:
    """vectors: (texts, layers, dim) pooled embeddings of distinct texts."""
    out = []
    for layer in range(vectors.shape[1]):
        x = vectors[:, layer, :].astype(np.float64)
        out.append(
            {
                "layer": layer,
                "anisotropy": anisotropy(x, seed),
                "dataset_entropy": renyi_entropy(x, alpha),
                "effective_rank": effective_rank(x),
                "intrinsic_dimension": two_nn_dimension(x),
                "mean_norm": float(np.linalg.norm(x, axis=1).mean()),
            }
        )
    return out


LAYER_METRICS = (
    "prompt_entropy",
    "dataset_entropy",
    "curvature",
    "effective_rank",
    "anisotropy",
    "intrinsic_dimension",
)
