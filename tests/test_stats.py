"""The statistics behind the leaderboard, checked on synthetic data with known answers."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from rwkv_mteb.metrics import stats


def correlated(rng, n, rho):
    x = rng.standard_normal(n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    return x, y


def test_vectorised_spearman_matches_scipy():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 5, 50))
    y[0] = np.round(y[0])  # ties
    got = stats.spearman(x, y)
    want = [sps.spearmanr(a, b)[0] for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.slow
def test_interval_coverage_with_a_known_correlation():
    """95% intervals cover the population Spearman (6/pi asin(rho/2) for a normal pair) about 95% of the time."""
    rng = np.random.default_rng(1)
    rho = 0.5
    truth = 6 / math.pi * math.asin(rho / 2)
    trials, n = 200, 300
    boot = fisher = 0
    for trial in range(trials):
        x, y = correlated(rng, n, rho)
        low, high = stats.bootstrap_ci(x, y, seed=trial)
        boot += low <= truth <= high
        f_low, f_high = stats.fisher_ci(float(stats.spearman(x, y)), n)
        fisher += f_low <= truth <= f_high
    assert 0.90 <= boot / trials <= 0.985
    assert 0.90 <= fisher / trials <= 0.985


@pytest.mark.slow
def test_paired_test_has_the_right_size():
    """Two encoders equal by construction (same signal, independent noise of the same size): ~5% rejections."""
    rng = np.random.default_rng(2)
    trials, n = 200, 200
    rejections = 0
    for trial in range(trials):
        gold = rng.standard_normal(n)
        a = gold + rng.standard_normal(n)
        b = gold + rng.standard_normal(n)
        rejections += stats.paired_bootstrap(a, b, gold, seed=trial)["p_value"] < 0.05
    assert 0.015 <= rejections / trials <= 0.10


def test_paired_test_finds_a_real_difference():
    rng = np.random.default_rng(3)
    gold = rng.standard_normal(400)
    result = stats.paired_bootstrap(gold + 0.3 * rng.standard_normal(400), gold + 2 * rng.standard_normal(400), gold)
    assert result["p_value"] < 0.01 and result["ci_low"] > 0 and result["difference"] > 0


def test_paired_p_value_is_the_bootstrap_standard_errors_and_has_no_floor():
    """By hand: the resampled differences' standard deviation, then the two-sided normal tail. A clear difference
    gets p far below 1 / (resamples + 1), so Holm over a board's 125 comparisons can still reject it."""
    rng = np.random.default_rng(4)
    gold = rng.standard_normal(400)
    a, b = gold + 0.3 * rng.standard_normal(400), gold + 2 * rng.standard_normal(400)
    resampled = stats.PairedResamples(gold)
    result = resampled.test(a, b)
    diffs = resampled.of(a)[1] - resampled.of(b)[1]
    se = np.std(diffs, ddof=1)
    assert result["p_value"] == pytest.approx(2 * sps.norm.sf(abs(result["difference"]) / se), rel=1e-9)
    assert result["p_value"] < 1e-6 and max(stats.holm([result["p_value"]] * 125)) < stats.SIGNIFICANCE


def test_average_ranks_are_scipys_exactly():
    rng = np.random.default_rng(5)
    cases = [
        rng.standard_normal((20, 300)),
        rng.integers(0, 2, (20, 300)).astype(float),  # MRPC's gold: two tie groups
        np.round(rng.standard_normal((20, 300)), 1),
        np.full((3, 5), 0.5),
    ]
    with_nan = rng.standard_normal((4, 9))
    with_nan[1, 3] = np.nan
    for x in [*cases, with_nan]:
        for axis in (-1, 0):
            np.testing.assert_array_equal(stats.average_ranks(x, axis=axis), sps.rankdata(x, axis=axis))


def test_threshold_is_chosen_on_train_and_applied_elsewhere():
    train_scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    train_labels = np.array([0, 0, 0, 1, 1, 1])
    threshold = stats.best_threshold(train_scores, train_labels)
    assert 0.3 < threshold < 0.6
    test = stats.binary_metrics(np.array([0.2, 0.5, 0.65, 0.95]), np.array([0, 0, 1, 1]), threshold)
    assert test["accuracy"] == pytest.approx(0.75 if threshold < 0.5 else 1.0)
    assert test["roc_auc"] == 1.0 and test["threshold"] == threshold
    assert stats.binary_metrics(np.array([0.1, 0.9]), np.array([0, 1]), None)["accuracy"] is None


def test_fisher_needs_enough_pairs():
    assert stats.fisher_ci(0.5, 4) is None and stats.fisher_ci(1.0, 100) is None


def test_a_threshold_never_splits_tied_scores():
    """The issue's example: a cut between the tied zeros would count 0.25 from row order alone; 0.75 is the best
    accuracy any threshold gives (predict nothing positive)."""
    scores = np.array([0, 0, 1, 0, 0.5, 0, 0, 0.5])
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    threshold = stats.best_threshold(scores, labels)
    assert stats.binary_metrics(scores, labels, threshold)["accuracy"] == 0.75


def test_random_tied_cases_never_pick_a_worse_threshold_than_the_best_cut():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 12))
        scores = rng.integers(0, 4, n) / 3.0  # few distinct values: many ties
        labels = rng.integers(0, 2, n)
        cuts = [*np.unique(scores), np.inf]  # every threshold that gives a distinct prediction
        best = max(float(((scores >= c) == labels).mean()) for c in cuts)
        chosen = stats.best_threshold(scores, labels)
        assert float(((scores >= chosen) == labels).mean()) == best


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> made monotone: 0.06 for the last
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert stats.holm([]) == []


def test_average_precision_is_scikit_learns_with_ties():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(1)
    scores = np.round(rng.standard_normal((20, 60)), 1)  # ties within every row
    labels = rng.integers(0, 2, (20, 60))
    want = [average_precision_score(y, s) for s, y in zip(scores, labels, strict=True)]
    np.testing.assert_allclose(stats.average_precision(scores, labels), want, atol=1e-12)


def test_max_ap_is_mtebs_pair_classification_main_score():
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 80)
    scores = np.round(rng.standard_normal((5, 80)) + labels, 2)
    names = [name for name, _ in stats.PAIR_SCORES]
    task = AbsTaskPairClassification.__new__(AbsTaskPairClassification)
    mteb_scores = task._compute_metrics(dict(zip(names, scores.tolist(), strict=True)), labels.tolist())
    assert float(stats.max_ap(scores, labels)) == pytest.approx(mteb_scores["max_ap"], abs=1e-12)
    low, high = stats.bootstrap_ci(scores, labels, kind="max_ap")
    assert low < mteb_scores["max_ap"] < high
    same = stats.paired_bootstrap(scores, scores, labels, kind="max_ap")
    assert same["difference"] == 0 and same["p_value"] == 1.0
