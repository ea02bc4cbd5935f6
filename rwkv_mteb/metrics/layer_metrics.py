"""Label-free layer metrics: the ones *Layer by Layer* (Skean et al., ICML 2025, "Layer by Layer: Uncovering
Hidden Representations in Language Models") relates to task scores, by the authors' definitions (their code,
github.com/OFSkean/information_flow, ``experiments/utils/metrics/metric_functions.py`` and ``metric_calling.py``),
and a few classics under the names of the papers that define them.

Skean et al.'s inputs are normalised first (:func:`normalize_rows`: centred over the rows, each row then scaled to
unit norm), so a direction shared by every row (the "massive activations" of LLM hidden states) does not dominate:

- :func:`dataset_entropy`: the sample's mean-pooled vectors, normalised; the smaller of the two Gram matrices
  (N x N or D x D), negative entries clamped to 0, divided by its trace; its matrix Renyi entropy of order alpha
  (alpha = 1, the paper's choice: the Shannon entropy of the eigenvalues; natural log), divided by
  min(log N, log D) (their ``maxEntropy`` normalisation).
- :func:`prompt_entropy`: the same on each text's own token states (no padding), averaged over texts.
- :func:`curvature`: each text's normalised token trajectory; the mean over successive steps
  v_k = z_k - z_{k-1} of arccos(|v_k . v_{k+1}| / (|v_k| |v_{k+1}|)), averaged over texts.
- :func:`lidar`: LiDAR (Thilak et al., 2023) as Skean et al. compute it: each augmented view normalised over the
  sample, the LDA matrix S_w^(-1/2) S_b S_w^(-1/2) with S_w + 1e-4 I, its matrix entropy / min(log N, log D).
- :func:`dime`: DiME (Skean et al., 2023): E_P[H(K_a o P K_b P^T)] - H(K_a o K_b) between two augmented views'
  Gram matrices, averaged over 10 seeded permutations, / min(log N, log D).
- :func:`infonce`: the InfoNCE loss between two augmented views (cosine logits / 0.1, the matching view as the
  positive), their ``compute_infonce``; lower: the views agree more.

And, under their own names: :func:`effective_rank` (Roy & Vetterli, 2007: exp of the entropy of the singular
values of the raw matrix, sigma / sum sigma), :func:`covariance_effective_rank` (the same formula on the centred
covariance's eigenvalues, sigma^2: what this project called effective rank before), :func:`intrinsic_dimension`
(TwoNN, Facco et al. 2017, by scikit-dimension's default fit), :func:`anisotropy` (mean cosine of unrelated texts)
and the mean norm.
"""

from __future__ import annotations

import math

import numpy as np

RENYI_ORDER = 1.0  # Skean et al.'s alpha
LDA_RIDGE = 1e-4  # LiDAR's delta on the within-class scatter (their compute_LDA_matrix)
DIME_PERMUTATIONS = 10  # their n_iters
INFONCE_TEMPERATURE = 0.1
# what a sweep samples per task for these metrics (runs/sweep_metrics.py)
DIAGNOSTIC_SAMPLE = 1024  # distinct texts the metrics of pooled vectors are computed on
TOKEN_SAMPLE = 128  # of those, texts whose token trajectories are measured (prompt entropy, curvature)
AUGMENTED_SAMPLE = 128  # of those, texts augmented for LiDAR, DiME and InfoNCE
AUGMENTATIONS = 16  # views per augmented text (Skean et al.'s LiDAR; DiME and InfoNCE use the first two)

LAYER_METRICS = (
    "prompt_entropy",
    "dataset_entropy",
    "curvature",
    "lidar",
    "dime",
    "infonce",
    "effective_rank",
    "covariance_effective_rank",
    "anisotropy",
    "intrinsic_dimension",
)

# Which way each metric would pick a layer without labels, declared before looking at any score (the board's regret
# table measures what choosing by it costs): "max" or "min". Our declarations, from each metric's own reading:
# compression (Skean et al.: mid-depth prompt-entropy dip), spread of the dataset, straighter trajectories (Hosseini
# & Fedorenko, 2023), LiDAR and DiME higher for better representations (Thilak et al., 2023; Skean et al., 2023),
# InfoNCE a loss, rank higher for better features (RankMe, Garrido et al., 2023), anisotropy hurting similarity
# (Ethayarajh, 2019), and more intrinsic dimensions for richer features.
PICK_DIRECTION = {
    "prompt_entropy": "min",
    "dataset_entropy": "max",
    "curvature": "min",
    "lidar": "max",
    "dime": "max",
    "infonce": "min",
    "effective_rank": "max",
    "covariance_effective_rank": "max",
    "anisotropy": "min",
    "intrinsic_dimension": "max",
}


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Centred over the rows (each column's mean subtracted), then every row scaled to unit norm (Skean et al.'s
    ``normalize``, from Matrix-Entropy). A row that centring leaves at zero stays zero (theirs becomes NaN)."""
    z = np.asarray(x, dtype=np.float64)
    z = z - z.mean(axis=0)
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)


def matrix_entropy(matrix: np.ndarray, alpha: float = RENYI_ORDER) -> float:
    """Matrix-based Renyi entropy (Giraldo et al., 2015) of a symmetric PSD matrix: its positive eigenvalues
    normalised to sum to 1; alpha = 1 is the Shannon limit -sum p log p, else log(sum p^alpha) / (1 - alpha)."""
    eig = np.linalg.eigvalsh(np.asarray(matrix, dtype=np.float64))
    eig = eig[eig > 0]
    if not len(eig):
        return float("nan")
    p = eig / eig.sum()
    if alpha == 1:
        return float(-np.sum(p * np.log(p)))
    return float(np.log(np.sum(p**alpha)) / (1 - alpha))


def _max_entropy(n: int, d: int) -> float:
    return min(math.log(n), math.log(d))


def _gram_entropy(z: np.ndarray, alpha: float) -> float:
    """Their ``compute_entropy`` on normalised rows z (n, d): the smaller Gram matrix, clamped at 0, over its
    trace, entropy / min(log n, log d)."""
    n, d = z.shape
    if n < 2 or d < 2:
        return float("nan")
    gram = z.T @ z if n > d else z @ z.T
    gram = np.maximum(gram, 0)
    trace = np.trace(gram)
    if trace <= 0:
        return float("nan")
    return matrix_entropy(gram / trace, alpha) / _max_entropy(n, d)


def dataset_entropy(pooled: np.ndarray, alpha: float = RENYI_ORDER) -> float:
    """Skean et al.'s dataset entropy of a sample's pooled vectors (n, d), raw vectors in. They normalise each
    dataloader batch of vectors; here the whole sample is one batch."""
    return _gram_entropy(normalize_rows(pooled), alpha)


def prompt_entropy(token_states: list[np.ndarray], alpha: float = RENYI_ORDER) -> float:
    """Skean et al.'s prompt entropy: mean over texts of the normalised entropy of each text's token states
    (T, d), raw states in. Texts of one token (where it is undefined) do not count."""
    values = [_gram_entropy(normalize_rows(z), alpha) for z in token_states if len(z) >= 2]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _text_curvature(z: np.ndarray) -> float:
    """Mean arccos|cos| between successive steps of one normalised trajectory; 0 for fewer than three tokens
    and for a zero step, as in their code."""
    steps = np.diff(z, axis=0)
    if len(steps) < 2:
        return 0.0
    a, b = steps[:-1], steps[1:]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.divide(np.abs(np.sum(a * b, axis=1)), norms, out=np.ones(len(a)), where=norms > 0)
    angles = np.where(norms > 0, np.arccos(np.clip(cos, -1.0, 1.0)), 0.0)
    return float(np.mean(angles))


def curvature(token_states: list[np.ndarray]) -> float:
    """Skean et al.'s curvature (k = 1) of each text's token trajectory, raw states in, averaged over texts."""
    if not token_states:
        return float("nan")
    return float(np.mean([_text_curvature(normalize_rows(z)) for z in token_states]))


def _views(views: np.ndarray) -> np.ndarray:
    """(n, views, d) with every view normalised over the sample, as each augmented batch is in their code."""
    return np.stack([normalize_rows(views[:, j]) for j in range(views.shape[1])], axis=1)


def lidar(views: np.ndarray, alpha: float = RENYI_ORDER) -> float:
    """LiDAR of augmented views (n texts, a views, d), raw pooled vectors in: matrix entropy of the LDA matrix
    with texts as classes, / min(log n, log d)."""
    z = _views(views)
    n, a, d = z.shape
    if n < 2 or a < 2:
        return float("nan")
    class_means = z.mean(axis=1)
    between = np.cov(class_means.T, bias=True) if n > 1 else np.zeros((d, d))
    centred = (z - class_means[:, None, :]).reshape(n * a, d)
    within = centred.T @ centred / (n * a) + LDA_RIDGE * np.eye(d)
    eig, vec = np.linalg.eigh(within)
    inverse_root = (vec / np.sqrt(eig)) @ vec.T
    return matrix_entropy(inverse_root @ between @ inverse_root, alpha) / _max_entropy(n, d)


def dime(view_a: np.ndarray, view_b: np.ndarray, alpha: float = RENYI_ORDER, seed: int = 0) -> float:
    """DiME between two augmented views (n, d) of the same texts, raw pooled vectors in: the Gram matrices of the
    normalised views, E_P[H(Ka o P Kb P^T)] - H(Ka o Kb) over seeded permutations P, / min(log n, log d).

    The N x N Gram matrices of the DiME paper throughout: Skean et al.'s code switches to the D x D covariance
    when N > D, which has the same entropy but not the same Hadamard products under a permutation of samples."""
    za, zb = normalize_rows(view_a), normalize_rows(view_b)
    n, d = za.shape
    if n < 2:
        return float("nan")
    ka, kb = za @ za.T, zb @ zb.T
    joint = matrix_entropy(ka * kb, alpha)
    rng = np.random.default_rng(seed)
    permuted = []
    for _ in range(DIME_PERMUTATIONS):
        order = rng.permutation(n)
        permuted.append(matrix_entropy(ka * kb[np.ix_(order, order)], alpha))
    return (float(np.mean(permuted)) - joint) / _max_entropy(n, d)


def infonce(view_a: np.ndarray, view_b: np.ndarray, temperature: float = INFONCE_TEMPERATURE) -> float:
    """InfoNCE loss of view a against view b (n, d), raw pooled vectors in: cross-entropy of each text's
    matching view among all n, logits = normalised a . normalised b / temperature. log n means no agreement."""
    za, zb = normalize_rows(view_a), normalize_rows(view_b)
    logits = za @ zb.T / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    log_softmax = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-np.mean(np.diag(log_softmax)))


def effective_rank(x: np.ndarray) -> float:
    """Roy & Vetterli (2007): exp of the Shannon entropy of p_k = sigma_k / sum sigma, the singular values of the
    matrix as it is (no centring)."""
    sigma = np.linalg.svd(np.asarray(x, dtype=np.float64), compute_uv=False)
    if sigma.sum() <= 0:
        return float("nan")
    p = sigma[sigma > 0] / sigma.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def covariance_effective_rank(x: np.ndarray) -> float:
    """Roy & Vetterli's formula on the centred covariance's eigenvalues (sigma^2 of the centred matrix): how many
    directions the variance spreads over."""
    energy = np.linalg.svd(np.asarray(x, dtype=np.float64) - x.mean(0), compute_uv=False) ** 2
    if energy.sum() <= 0:
        return 1.0
    p = energy[energy > 0] / energy.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def intrinsic_dimension(x: np.ndarray) -> float:
    """TwoNN (Facco et al., 2017) by scikit-dimension's default fit (linear fit, 10% of points discarded), on
    the distinct rows (a duplicate has no nearest-neighbour distance); nan for fewer than 3."""
    import skdim  # imports numba: only when a sweep computes its diagnostics

    rows = np.unique(np.asarray(x, dtype=np.float64), axis=0)
    if len(rows) < 3:
        return float("nan")
    return float(skdim.id.TwoNN().fit(rows).dimension_)


def anisotropy(x: np.ndarray, seed: int = 0, pairs: int = 5000) -> float:
    """Mean cosine similarity of random pairs of different texts."""
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = (a + rng.integers(1, n, pairs)) % n  # never the same text
    norms = np.linalg.norm(x, axis=1)
    unit = x / np.where(norms > 0, norms, 1)[:, None]
    return float(np.mean(np.sum(unit[a] * unit[b], axis=1)))


def pooled_metrics(x: np.ndarray, alpha: float = RENYI_ORDER, seed: int = 0) -> dict[str, float]:
    """The metrics of one layer's pooled vectors (texts, d) of distinct texts."""
    x = np.asarray(x, dtype=np.float64)
    return {
        "anisotropy": anisotropy(x, seed),
        "dataset_entropy": dataset_entropy(x, alpha),
        "effective_rank": effective_rank(x),
        "covariance_effective_rank": covariance_effective_rank(x),
        "intrinsic_dimension": intrinsic_dimension(x),
        "mean_norm": float(np.linalg.norm(x, axis=1).mean()),
    }


def augmentation_metrics(views: np.ndarray, alpha: float = RENYI_ORDER, seed: int = 0) -> dict[str, float]:
    """LiDAR on every view (n, a, d); DiME and InfoNCE on the first two."""
    return {
        "lidar": lidar(views, alpha),
        "dime": dime(views[:, 0], views[:, 1], alpha, seed),
        "infonce": infonce(views[:, 0], views[:, 1]),
    }
