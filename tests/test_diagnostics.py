"""The label-free layer metrics on inputs whose answers are known."""

import math

import numpy as np
import pytest

from rwkv_mteb.diagnostics import (
    anisotropy,
    curvature,
    effective_rank,
    layer_diagnostics,
    prompt_entropy,
    renyi_entropy,
    trajectory_curvature,
    two_nn_dimension,
)


@pytest.mark.parametrize("alpha", [1.0, 2.0, 0.5])
def test_entropy_of_orthogonal_rows_is_one_and_of_identical_rows_zero(alpha):
    assert renyi_entropy(np.eye(8) * 3.0, alpha) == pytest.approx(1.0)
    assert renyi_entropy(np.tile(np.arange(1.0, 6.0), (8, 1)), alpha) == pytest.approx(0.0, abs=1e-12)


def test_entropy_of_two_directions_among_four_rows():
    rows = np.array([[1.0, 0], [1, 0], [0, 1], [0, 1]])  # Gram eigenvalues 1/2, 1/2: log 2 of log 4
    assert renyi_entropy(rows) == pytest.approx(0.5)
    assert renyi_entropy(rows, alpha=2.0) == pytest.approx(0.5)  # flat spectrum: every order agrees


def test_prompt_entropy_averages_texts_and_skips_single_tokens():
    texts = [np.eye(4), np.ones((3, 4)), np.ones((1, 4))]
    assert prompt_entropy(texts) == pytest.approx(0.5)


def test_curvature_of_a_straight_line_is_zero_and_of_a_zigzag_pi():
    line = np.outer(np.arange(6.0), [1.0, 2.0, -1.0])
    assert trajectory_curvature(line) == pytest.approx(0.0, abs=1e-6)
    zigzag = np.array([[0.0, 0], [1, 0], [0, 0], [1, 0], [0, 0]])
    assert trajectory_curvature(zigzag) == pytest.approx(math.pi)
    square = np.array([[0.0, 0], [1, 0], [1, 1], [0, 1], [0, 0]])  # a right angle at every step
    assert trajectory_curvature(square) == pytest.approx(math.pi / 2)
    assert curvature([line, zigzag, np.zeros((2, 3))]) == pytest.approx(math.pi / 2)  # 2 tokens: no angle


def test_two_nn_finds_the_dimension_of_a_plane_in_a_larger_space():
    rng = np.random.default_rng(0)
    plane = rng.uniform(size=(2000, 2)) @ rng.standard_normal((2, 20))
    assert two_nn_dimension(plane) == pytest.approx(2.0, rel=0.1)
    cube = rng.uniform(size=(2000, 5)) @ rng.standard_normal((5, 20))
    assert two_nn_dimension(cube) == pytest.approx(5.0, rel=0.15)


def test_anisotropy_and_effective_rank():
    same_direction = np.outer(np.arange(1.0, 11.0), [1.0, 1.0, 0.0])
    assert anisotropy(same_direction) == pytest.approx(1.0)
    assert effective_rank(same_direction) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    isotropic = rng.standard_normal((4000, 6))
    assert abs(anisotropy(isotropic)) < 0.05
    assert effective_rank(isotropic) == pytest.approx(6.0, rel=0.02)


def test_constant_vectors_give_defined_or_null_metrics_never_a_crash():
    rows = layer_diagnostics(np.ones((50, 2, 4)))
    assert rows[0]["anisotropy"] == pytest.approx(1.0)
    assert rows[0]["dataset_entropy"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(rows[0]["intrinsic_dimension"])  # every neighbour is a duplicate
