"""The statistics behind the leaderboard, checked on synthetic data with known answers."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from rwkv_mteb import stats


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
