"""The statistics that make a comparison honest: bootstrap and Fisher-z intervals for Spearman correlations,
a paired bootstrap test between two encoders on the same pairs, and threshold metrics for binary labels with
the threshold chosen on the train split (not on the evaluated data)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

N_RESAMPLES = 1000
CONFIDENCE = 0.95


def spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman correlation along ``axis`` (vectorised over the other axes): Pearson of average ranks."""
    return _ranked_correlation(_centred_ranks(x, axis), _centred_ranks(y, axis), axis)


def _centred_ranks(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r = stats.rankdata(x, axis=axis)
    return r - r.mean(axis=axis, keepdims=True)


def _ranked_correlation(rx: np.ndarray, ry: np.ndarray, axis: int = -1) -> np.ndarray:
    den = np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=axis) / den, np.nan)


def bootstrap_ci(
    pred: np.ndarray, gold: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman over pairs (scipy.stats.bootstrap, resampling pairs)."""
    result = stats.bootstrap(
        (pred, gold),
        lambda a, b, axis=-1: spearman(a, b, axis=axis),
        paired=True,
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
    seeded pairs, and its resampled Spearman correlations are computed once and kept (``n_resamples`` numbers), so a
    test between any two is a subtraction. A board compares hundreds of layer variants with the best one."""

    def __init__(self, gold: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES) -> None:
        self.gold, self.seed, self.n_resamples = gold, seed, n_resamples
        self._memo: dict[bytes, tuple[float, np.ndarray]] = {}
        self._blocks: list[tuple[np.ndarray, np.ndarray]] | None = None  # (pair indices, gold's centred ranks)

    def _resamples(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The seeded resamples in blocks of 100, with the gold's ranks on each: computed once, shared by every
        prediction (a block of 100 x n pairs: about 3 MB per 1,000 pairs)."""
        if self._blocks is None:
            rng = np.random.default_rng(self.seed)
            n = len(self.gold)
            self._blocks = []
            for start in range(0, self.n_resamples, 100):
                idx = rng.integers(0, n, size=(min(100, self.n_resamples - start), n))
                self._blocks.append((idx, _centred_ranks(self.gold[idx])))
        return self._blocks

    def of(self, pred: np.ndarray) -> tuple[float, np.ndarray]:
        """(observed Spearman, Spearman on each resample)."""
        key = np.ascontiguousarray(pred, dtype=float).tobytes()
        if key not in self._memo:
            values = np.concatenate(
                [_ranked_correlation(_centred_ranks(pred[idx]), ry) for idx, ry in self._resamples()]
            )
            self._memo[key] = (float(spearman(pred, self.gold)), values)
        return self._memo[key]

    def test(self, pred_a: np.ndarray, pred_b: np.ndarray) -> dict[str, float]:
        """Spearman(a) - Spearman(b) on the same resampled pairs: the difference, its interval and a two-sided
        p-value (the bootstrap distribution re-centred on zero, the null of equal correlation)."""
        (rho_a, a), (rho_b, b) = self.of(pred_a), self.of(pred_b)
        observed, diffs = rho_a - rho_b, a - b
        alpha = 1 - CONFIDENCE
        low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
        centred = diffs - diffs.mean()
        p = (1 + np.sum(np.abs(centred) >= abs(observed))) / (1 + self.n_resamples)
        return {"difference": observed, "ci_low": float(low), "ci_high": float(high), "p_value": float(min(1.0, p))}


def paired_bootstrap(
    pred_a: np.ndarray, pred_b: np.ndarray, gold: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES
) -> dict[str, float]:
    """One paired test (see :class:`PairedResamples`)."""
    return PairedResamples(gold, seed, n_resamples).test(pred_a, pred_b)


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cosine threshold that maximises accuracy on these (train) pairs: midpoints between sorted scores."""
    order = np.argsort(scores)
    s, y = scores[order], labels[order].astype(bool)
    # predicting "positive" for scores >= s[i]: correct = negatives below i + positives from i on
    neg_below = np.concatenate([[0], np.cumsum(~y)])
    pos_from = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    correct = neg_below + pos_from
    i = int(np.argmax(correct))
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
