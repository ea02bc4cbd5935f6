"""The label-free layer metrics against independent transcriptions of their published formulas (written here in
torch, following the authors' code: Skean et al.'s metric_functions.py / metric_calling.py, Roy & Vetterli's
definition), raw rows in, with and without a shared offset; and on inputs whose answers are known."""

import math

import numpy as np
import pytest
import torch

from rwkv_mteb.metrics.layer_metrics import (
    DIME_PERMUTATIONS,
    anisotropy,
    covariance_effective_rank,
    curvature,
    dataset_entropy,
    dime,
    effective_rank,
    infonce,
    intrinsic_dimension,
    lidar,
    matrix_entropy,
    pooled_metrics,
    prompt_entropy,
)

# ------------------------------------------------------------------ transcriptions of the published formulas


def ref_normalize(r: torch.Tensor) -> torch.Tensor:
    r = r - r.mean(dim=0)
    return r / torch.norm(r, p=2, dim=1, keepdim=True)


def ref_alpha_entropy(k: torch.Tensor, alpha: float) -> float:
    ek = torch.linalg.eigvalsh(k)
    ek = ek[ek > 0]
    ek = ek / ek.sum()
    if alpha == 1:
        return float(-(ek * torch.log(ek)).sum())
    return float(torch.log(torch.sum(torch.exp(alpha * torch.log(ek)))) / (1 - alpha))


def ref_entropy(z: torch.Tensor, alpha: float) -> float:
    """compute_entropy on normalised rows, 'maxEntropy' normalisation."""
    n, d = z.shape
    cov = z.T @ z if n > d else z @ z.T
    cov = torch.clamp(cov, min=0)
    cov = cov / torch.trace(cov)
    return ref_alpha_entropy(cov, alpha) / min(math.log(n), math.log(d))


def ref_curvature(z: torch.Tensor) -> float:
    total, count = 0.0, 0
    for k in range(1, z.shape[0] - 1):
        a, b = z[k + 1] - z[k], z[k] - z[k - 1]
        na, nb = torch.norm(a), torch.norm(b)
        total += 0.0 if na == 0 or nb == 0 else float(torch.arccos(torch.clamp(torch.abs(a @ b) / (na * nb), -1, 1)))
        count += 1
    return total / count if count else 0.0


def ref_lda(x: torch.Tensor) -> torch.Tensor:
    n, a, d = x.shape
    mean, means = x.mean(dim=(0, 1)), x.mean(dim=1)
    between = sum(torch.outer(means[i] - mean, means[i] - mean) for i in range(n)) / n
    within = sum(torch.outer(x[i, j] - means[i], x[i, j] - means[i]) for i in range(n) for j in range(a)) / (n * a)
    within = within + 1e-4 * torch.eye(d, dtype=x.dtype)
    eigs, vecs = torch.linalg.eigh(within)
    root = vecs @ torch.diag(eigs**-0.5) @ vecs.T
    return root @ between @ root


def ref_dime(a: torch.Tensor, b: torch.Tensor, alpha: float, seed: int) -> float:
    za, zb = ref_normalize(a), ref_normalize(b)
    ka, kb = za @ za.T, zb @ zb.T
    joint = ref_alpha_entropy(ka * kb, alpha)
    rng = np.random.default_rng(seed)  # the same permutations as the implementation draws
    permuted = 0.0
    for _ in range(DIME_PERMUTATIONS):
        idx = torch.as_tensor(rng.permutation(len(a)))
        permuted += ref_alpha_entropy(ka * kb[idx][:, idx], alpha) / DIME_PERMUTATIONS
    n, d = a.shape
    return (permuted - joint) / min(math.log(n), math.log(d))


def ref_infonce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> float:
    logits = ref_normalize(a) @ ref_normalize(b).T
    return float(torch.nn.functional.cross_entropy(logits / temperature, torch.arange(len(a))))


def t(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


@pytest.fixture(params=["plain", "shared offset"])
def offset(request) -> float:
    """A direction shared by every row, as the massive activations of LLM hidden states are."""
    return 0.0 if request.param == "plain" else 40.0


# ------------------------------------------------------------------ the published definitions, exactly


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("shape", [(64, 32), (24, 48)])
def test_dataset_entropy_is_skean_et_al(shape, alpha, offset):
    x = np.random.default_rng(0).standard_normal(shape) + offset * np.ones(shape[1])
    assert dataset_entropy(x, alpha) == pytest.approx(ref_entropy(ref_normalize(t(x)), alpha), abs=1e-6)


def test_a_shared_offset_does_not_change_the_published_entropies():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 32))
    shift = 50.0 * rng.standard_normal(32)
    assert dataset_entropy(x + shift) == pytest.approx(dataset_entropy(x), abs=1e-9)
    assert dataset_entropy(x) > 0.9  # 64 Gaussian rows in 32 dimensions: nearly the maximum


def test_prompt_entropy_and_curvature_are_skean_et_al(offset):
    rng = np.random.default_rng(2)
    walks = [np.cumsum(rng.standard_normal((n, 16)), axis=0) + offset for n in (3, 7, 12, 20, 5, 9, 2, 31)]
    want_entropy = np.mean([ref_entropy(ref_normalize(t(w)), 1.0) for w in walks])
    assert prompt_entropy(walks) == pytest.approx(want_entropy, abs=1e-6)
    want_curvature = np.mean([ref_curvature(ref_normalize(t(w))) for w in walks])
    assert curvature(walks) == pytest.approx(want_curvature, abs=1e-6)


def test_lidar_dime_and_infonce_are_skean_et_al(offset):
    rng = np.random.default_rng(3)
    texts = rng.standard_normal((40, 1, 24))
    views = texts + 0.5 * rng.standard_normal((40, 6, 24)) + offset
    normalised = torch.stack([ref_normalize(t(views[:, j])) for j in range(6)], dim=1)
    want = ref_alpha_entropy(ref_lda(normalised), 1.0) / min(math.log(40), math.log(24))
    assert lidar(views) == pytest.approx(want, abs=1e-6)
    a, b = views[:, 0], views[:, 1]
    assert dime(a, b, seed=7) == pytest.approx(ref_dime(t(a), t(b), 1.0, seed=7), abs=1e-6)
    assert infonce(a, b) == pytest.approx(ref_infonce(t(a), t(b)), abs=1e-6)


def test_effective_rank_is_roy_and_vetterli():
    rng = np.random.default_rng(4)
    u, _ = np.linalg.qr(rng.standard_normal((30, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((10, 3)))
    x = u @ np.diag([3.0, 2.0, 1.0]) @ v.T  # singular values 3, 2, 1: p = 1/2, 1/3, 1/6
    p = np.array([3.0, 2.0, 1.0]) / 6
    assert effective_rank(x) == pytest.approx(math.exp(-np.sum(p * np.log(p))), abs=1e-9)
    y = rng.standard_normal((64, 32)) + 5.0
    sigma = torch.linalg.svdvals(t(y))
    q = sigma / sigma.sum()
    assert effective_rank(y) == pytest.approx(float(torch.exp(-(q * torch.log(q)).sum())), abs=1e-6)
    assert effective_rank(y) < effective_rank(y - 5.0)  # the raw matrix: a shared offset is one strong direction
    assert covariance_effective_rank(y) == pytest.approx(covariance_effective_rank(y - 5.0), abs=1e-9)


def test_intrinsic_dimension_is_scikit_dimensions_twonn():
    import skdim

    rng = np.random.default_rng(5)
    cube = rng.uniform(size=(1500, 5)) @ rng.standard_normal((5, 20))
    assert intrinsic_dimension(cube) == pytest.approx(skdim.id.TwoNN().fit(cube).dimension_, abs=1e-12)
    assert intrinsic_dimension(cube) == pytest.approx(5.0, rel=0.15)
    plane = rng.uniform(size=(1500, 2)) @ rng.standard_normal((2, 20))
    assert intrinsic_dimension(np.concatenate([plane, plane[:10]])) == pytest.approx(2.0, rel=0.1)  # duplicates


# ------------------------------------------------------------------ known answers


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_matrix_entropy_of_flat_and_single_spectra(alpha):
    assert matrix_entropy(np.eye(8) / 8, alpha) == pytest.approx(math.log(8))
    assert matrix_entropy(np.diag([1.0, 0, 0]), alpha) == pytest.approx(0.0, abs=1e-12)


def test_infonce_of_identical_and_of_independent_views():
    rng = np.random.default_rng(6)
    n = 64
    rows, _ = np.linalg.qr(rng.standard_normal((256, n)))
    x = rows.T  # orthonormal rows; normalised they form a simplex: cosine -1/(n-1) between any two
    expected = math.log(1 + (n - 1) * math.exp(-10 / (n - 1) - 10))
    assert infonce(x, x) == pytest.approx(expected, rel=1e-9)
    independent = infonce(rng.standard_normal((n, 256)), rng.standard_normal((n, 256)))
    assert independent == pytest.approx(math.log(n), abs=0.3)  # no view finds its partner


def test_dime_of_identical_and_of_independent_views():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 4)) @ rng.standard_normal((4, 128))  # texts that differ in 4 directions
    independent = rng.standard_normal((64, 4)) @ rng.standard_normal((4, 128))
    noisy = x + 0.3 * rng.standard_normal(x.shape) * np.linalg.norm(x, axis=1, keepdims=True) / np.sqrt(128)
    assert dime(x, x) > dime(x, noisy) > 10 * abs(dime(x, independent))  # identical > related > unrelated views
    assert abs(dime(x, independent)) < 0.01
    # rows in 128 dimensions nearly orthogonal: both Gram matrices are ~ I, a permutation changes nothing
    white = rng.standard_normal((64, 128))
    assert abs(dime(white, white)) < 0.01


def test_lidar_of_identical_views_is_the_entropy_of_the_texts():
    rng = np.random.default_rng(8)
    rank_one = np.outer(rng.standard_normal(30), rng.standard_normal(12))[:, None, :]
    assert lidar(np.repeat(rank_one, 4, axis=1)) == pytest.approx(0.0, abs=1e-9)  # one direction between classes
    texts = rng.standard_normal((30, 1, 12))
    identical = np.repeat(texts, 4, axis=1)  # no within-class scatter: LDA = S_b / delta
    z = ref_normalize(t(texts[:, 0])).numpy()
    between = np.cov(z.T, bias=True)
    assert lidar(identical) == pytest.approx(matrix_entropy(between) / math.log(12), abs=1e-9)
    noisy = texts + 3.0 * rng.standard_normal((30, 4, 12))
    assert lidar(noisy) != pytest.approx(lidar(identical), abs=1e-3)


def test_curvature_of_straight_and_folded_trajectories():
    line = np.outer(np.arange(6.0), [1.0, 2.0, -1.0])  # normalised: still on one line
    assert curvature([line]) == pytest.approx(0.0, abs=1e-6)
    assert curvature([np.zeros((2, 3))]) == 0.0  # fewer than three tokens: 0, as the authors' code gives


def test_constant_vectors_give_defined_or_null_metrics_never_a_crash():
    row = pooled_metrics(np.ones((50, 4)))
    assert row["anisotropy"] == pytest.approx(1.0)
    assert math.isnan(row["dataset_entropy"])  # centring leaves nothing
    assert math.isnan(row["intrinsic_dimension"])  # one distinct row
    assert anisotropy(np.random.default_rng(9).standard_normal((4000, 6))) == pytest.approx(0.0, abs=0.05)
