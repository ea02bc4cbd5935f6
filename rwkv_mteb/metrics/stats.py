"""The statistics that make a comparison honest: bootstrap intervals of a task's main score over its pairs
(Spearman for STS tasks; MTEB's ``max_ap`` for pair classification), Fisher-z intervals for Spearman, a paired
bootstrap test between two encoders on the same pairs (by the bootstrap standard error), Holm's adjustment of a
family of such tests, and threshold metrics for binary labels with the threshold chosen on the train split (not
on the evaluated data) by MTEB's rule (a threshold never splits tied scores)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

N_RESAMPLES = 1000
CONFIDENCE = 0.95
SIGNIFICANCE = 0.05  # the level the board's marks use, on Holm-adjusted p-values
# MTEB's pair-classification scores (prediction-file keys) and whether a higher value means more similar
PAIR_SCORES = (
    ("similarity_scores", True),
    ("cosine_scores", True),
    ("manhattan_distances", False),
    ("euclidean_distances", False),
    ("dot_scores", True),
)


def spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman correlation along ``axis`` (vectorised over the other axes): Pearson of average ranks."""
    return _ranked_correlation(_centred_ranks(x, axis), _centred_ranks(y, axis), axis)


def average_ranks(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``scipy.stats.rankdata(x, axis=axis)`` (average ranks for ties, a row with a nan all nan), equal to it
    exactly and twice as fast on continuous rows: the board ranks every prediction on 1,000 resamples, the most
    expensive step of publishing it. Tie groups' first and last positions come from running max / min."""
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    order = np.argsort(x, axis=-1)
    s = np.take_along_axis(x, order, axis=-1)
    n = s.shape[-1]
    positions = np.arange(n)
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = np.ones(s.shape, dtype=bool)
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, positions, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends, positions, n - 1)[..., ::-1], axis=-1)[..., ::-1]
    ranks = np.empty(s.shape)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=-1)
    nan_rows = np.isnan(x).any(axis=-1, keepdims=True)
    if nan_rows.any():
        ranks = np.where(nan_rows, np.nan, ranks)
    return np.moveaxis(ranks, -1, axis)


def _centred_ranks(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r = average_ranks(x, axis=axis)
    return r - r.mean(axis=axis, keepdims=True)


def _ranked_correlation(rx: np.ndarray, ry: np.ndarray, axis: int = -1) -> np.ndarray:
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=axis) / den, np.nan)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Average precision along the last axis (vectorised over the others), as scikit-learn computes it: a
    threshold at each distinct score, tied scores counted together. nan where there is no positive."""
    order = np.argsort(-scores, axis=-1, kind="stable")
    s = np.take_along_axis(scores, order, axis=-1)
    y = np.take_along_axis(np.asarray(labels, dtype=float), order, axis=-1)
    n = s.shape[-1]
    precision = np.cumsum(y, axis=-1) / np.arange(1, n + 1)
    group_end = np.ones(s.shape, dtype=bool)
    group_end[..., :-1] = s[..., 1:] != s[..., :-1]
    positions = np.where(group_end, np.arange(n), n - 1)
    ends = np.minimum.accumulate(positions[..., ::-1], axis=-1)[..., ::-1]  # the end of each score's tie group
    positives = y.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (y * np.take_along_axis(precision, ends, axis=-1)).sum(axis=-1) / positives


def max_ap(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """MTEB's pair-classification main score: the best average precision of its five scoring functions.
    ``scores``: (5, ..., n) in :data:`PAIR_SCORES` order (distances are negated, as MTEB does)."""
    signs = np.array([1.0 if higher else -1.0 for _, higher in PAIR_SCORES]).reshape(-1, *[1] * (scores.ndim - 1))
    return np.max(average_precision(scores * signs, np.broadcast_to(labels, scores.shape)), axis=0)


def main_score(kind: str, pred: np.ndarray, gold: np.ndarray, axis: int = -1) -> np.ndarray:
    """``spearman`` (STS: ``pred`` the cosine scores) or ``max_ap`` (pair classification: ``pred`` the five score
    arrays stacked first), along the pair axis."""
    if kind == "spearman":
        return spearman(pred, gold, axis=axis)
    return max_ap(pred, gold)


def bootstrap_ci(
    pred: np.ndarray, gold: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES, kind: str = "spearman"
) -> tuple[float, float]:
    """Percentile bootstrap interval of the main score over pairs (scipy.stats.bootstrap, resampling pairs)."""
    if kind == "max_ap":
        arrays = (*pred, gold)

        def statistic(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
            return max_ap(np.stack(resampled[:-1]), resampled[-1])
    else:
        arrays = (pred, gold)

        def statistic(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
            return spearman(resampled[0], resampled[1], axis=axis)

    result = stats.bootstrap(
        arrays,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_ci(values: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean over items (a retrieval score over its queries)."""
    if np.ptp(values) == 0:  # every resample has the same mean
        return float(values[0]), float(values[0])
    result = stats.bootstrap(
        (values,),
        np.mean,
        vectorized=True,
        n_resamples=n_resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def fisher_ci(rho: float, n: int) -> tuple[float, float] | None:
    """Fisher-z interval for Spearman, with the Fieller-Hartley-Pearson variance 1.06 / (n - 3)."""
    if n <= 4 or not -1 < rho < 1:
        return None
    z = math.atanh(rho)
    half = stats.norm.ppf(0.5 + CONFIDENCE / 2) * math.sqrt(1.06 / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


class PairedResamples:
    """Paired bootstrap tests of many predictions against one gold: every prediction is resampled on the same
    seeded pairs, and its resampled main scores are computed once and kept (``n_resamples`` numbers), so a test
    between any two is a subtraction. A board compares hundreds of layer variants with the best one."""

    def __init__(self, gold: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES, kind: str = "spearman") -> None:
        self.gold, self.seed, self.n_resamples, self.kind = gold, seed, n_resamples, kind
        self._memo: dict[bytes, tuple[float, np.ndarray]] = {}
        self._blocks: list[tuple[np.ndarray, np.ndarray]] | None = None  # (pair indices, gold's centred ranks)

    def _resamples(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The seeded resamples in blocks of 100, with the gold on each (its centred ranks for Spearman):
        computed once, shared by every prediction (a block of 100 x n pairs: about 3 MB per 1,000 pairs)."""
        if self._blocks is None:
            rng = np.random.default_rng(self.seed)
            n = len(self.gold)
            self._blocks = []
            for start in range(0, self.n_resamples, 100):
                idx = rng.integers(0, n, size=(min(100, self.n_resamples - start), n))
                gold = _centred_ranks(self.gold[idx]) if self.kind == "spearman" else self.gold[idx]
                self._blocks.append((idx, gold))
        return self._blocks

    def of(self, pred: np.ndarray) -> tuple[float, np.ndarray]:
        """(observed main score, main score on each resample); ``pred`` as :func:`main_score` takes it."""
        key = np.ascontiguousarray(pred, dtype=float).tobytes()
        if key not in self._memo:
            if self.kind == "spearman":
                parts = [_ranked_correlation(_centred_ranks(pred[idx]), ry) for idx, ry in self._resamples()]
            else:
                parts = [max_ap(pred[:, idx], gold) for idx, gold in self._resamples()]
            self._memo[key] = (float(main_score(self.kind, pred, self.gold)), np.concatenate(parts))
        return self._memo[key]

    def test(self, pred_a: np.ndarray, pred_b: np.ndarray) -> dict[str, float]:
        """score(a) - score(b) on the same resampled pairs: the difference, its percentile interval and a
        two-sided p-value from the bootstrap standard error (Efron & Tibshirani, *An Introduction to the
        Bootstrap*, 1993): ``2 * (1 - Phi(|d| / sd(d*)))``. Counting resampled differences instead would floor p
        at 1 / (resamples + 1), and Holm over a board's ~125 comparisons could then never reject (0.001 x 125)."""
        (rho_a, a), (rho_b, b) = self.of(pred_a), self.of(pred_b)
        observed, diffs = rho_a - rho_b, a - b
        alpha = 1 - CONFIDENCE
        low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
        se = float(diffs.std(ddof=1))
        # se 0: every resample gives the same difference
        p = math.erfc(abs(observed) / (se * math.sqrt(2))) if se > 0 else float(observed == 0)
        return {"difference": observed, "ci_low": float(low), "ci_high": float(high), "p_value": float(min(1.0, p))}


def paired_bootstrap(
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    gold: np.ndarray,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
    kind: str = "spearman",
) -> dict[str, float]:
    """One paired test (see :class:`PairedResamples`)."""
    return PairedResamples(gold, seed, n_resamples, kind).test(pred_a, pred_b)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm, 1979), which controls the family-wise error rate under any dependence
    between the tests: the i-th smallest p-value times (m - i + 1), made monotone, capped at 1."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cosine threshold that maximises accuracy on these (train) pairs, predicting positive for scores at
    or above it. Candidate cuts lie between two *distinct* sorted scores (or below / above all of them): a cut
    between tied scores would count an accuracy that no threshold gives (MTEB's rule)."""
    order = np.argsort(scores, kind="stable")
    s, y = scores[order], labels[order].astype(bool)
    # a cut before position i predicts positive for s[i:]: correct = negatives before i + positives from i on
    neg_below = np.concatenate([[0], np.cumsum(~y)])
    pos_from = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    correct = neg_below + pos_from
    allowed = np.ones(len(s) + 1, dtype=bool)
    allowed[1:-1] = s[1:] != s[:-1]
    i = int(np.argmax(np.where(allowed, correct, -1)))
    if i == 0:
        return float(s[0]) - 1e-6
    if i == len(s):
        return float(s[-1]) + 1e-6
    return float((s[i - 1] + s[i]) / 2)


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float | None) -> dict[str, float | None]:
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    labels = labels.astype(int)
    out: dict[str, float | None] = {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "average_precision": float(average_precision_score(labels, scores)),
        "threshold": threshold,
        "accuracy": None,
        "f1": None,
    }
    if threshold is not None:
        predicted = (scores >= threshold).astype(int)
        out["accuracy"] = float((predicted == labels).mean())
        out["f1"] = float(f1_score(labels, predicted, zero_division=0))
    return out
