"""Dominance, crowding and the knee (core/moo.py)."""

import numpy as np

from hybridnas.core.moo import crowding_distance, knee_index, non_dominated


def _old_knee(F):
    """The rule before: the smallest sum of objectives normalised over the front."""
    lo, hi = F.min(0), F.max(0)
    return int(np.argmin(((F - lo) / np.where(hi > lo, hi - lo, 1)).sum(1)))


def test_knee_of_a_three_objective_front_is_farthest_below_the_plane_through_its_extremes():
    F = np.array([[0.0, 1.0, 0.3], [0.2, 0.8, 0.1], [0.3, 0.4, 0.8], [0.9, 0.4, 0.0], [1.0, 0.3, 0.7]])
    assert non_dominated(F).all()
    N = (F - F.min(0)) / (F.max(0) - F.min(0))
    extremes = N[[0, 4, 3]]  # the best point of each objective
    w = np.linalg.solve(extremes, np.ones(3))
    below = (1 - N @ w) / np.linalg.norm(w)
    assert np.allclose(below[[0, 3, 4]], 0)  # the extremes lie on the plane
    assert int(np.argmax(below)) == 2 == knee_index(F)
    assert _old_knee(F) == 1  # the smallest normalised sum is another point: the old rule was no knee here


def test_knee_with_two_objectives_is_unchanged():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = np.sort(rng.random(8))
        F = np.stack([a, 1 - a ** rng.uniform(0.3, 3)], axis=1)
        F = F[non_dominated(F)]
        assert knee_index(F) == _old_knee(F)


def test_knee_of_two_points_is_normalised_and_prefers_the_better_in_more_objectives():
    # the unnormalised sum let FLOPs decide (the second point); it is better in FLOPs only
    F = np.array([[0.1, 5000.0, 2e6], [0.2, 9000.0, 1e6]])
    assert knee_index(F) == 0
    # a tie (each better in one) goes to the lower first objective (error)
    assert knee_index(np.array([[1.0, 5000.0], [0.9, 9000.0]])) == 1
    assert knee_index(np.array([[0.3, 7.0]])) == 0


def test_non_dominated_keeps_duplicates_and_crowding_marks_extremes():
    F = np.array([[1, 2], [1, 2], [2, 1], [2, 2], [0, 3]], dtype=float)
    assert non_dominated(F).tolist() == [True, True, True, False, True]
    d = crowding_distance(np.array([[0, 3], [1, 2], [2, 1], [3, 0]], dtype=float))
    assert np.isinf(d[[0, 3]]).all() and np.all(np.isfinite(d[[1, 2]])) and d[1] == d[2]
    assert np.isinf(crowding_distance(np.array([[0, 1], [1, 0]], dtype=float))).all()
