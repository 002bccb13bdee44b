"""Pareto dominance, hypervolume and normalisation (all objectives minimised)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` that no other row dominates (duplicates all kept)."""
    from pymoo.util.nds.non_dominated_sorting import find_non_dominated

    F = np.asarray(F, dtype=float)
    mask = np.zeros(len(F), dtype=bool)
    if len(F):
        mask[find_non_dominated(F.reshape(len(F), -1))] = True
    return mask


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of a front (pymoo's): the normalised side lengths of
    the box spanned by its neighbours, averaged over objectives; each objective's extremes get inf."""
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    F = np.asarray(F, dtype=float)
    if len(F) <= 2:
        return np.full(len(F), np.inf)
    return calc_crowding_distance(F.reshape(len(F), -1))


def normalise(F: np.ndarray, lower: Sequence[float], upper: Sequence[float], log: Sequence[bool] = ()) -> np.ndarray:
    """Map each objective to [0, 1] between ``lower`` and ``upper`` (log scale where asked)."""
    F = np.asarray(F, dtype=float).copy()
    lo = np.asarray(lower, dtype=float).copy()
    hi = np.asarray(upper, dtype=float).copy()
    for j, is_log in enumerate(log):
        if is_log:
            F[:, j] = np.log10(np.maximum(F[:, j], 1e-12))
            lo[j], hi[j] = np.log10(max(lo[j], 1e-12)), np.log10(max(hi[j], 1e-12))
    span = np.where(hi > lo, hi - lo, 1.0)
    return (F - lo) / span


def hypervolume(F: np.ndarray, ref: Sequence[float]) -> float:
    """Hypervolume dominated by ``F`` up to ``ref`` (points not strictly below ``ref`` contribute
    nothing). Exact: moocore's, which pymoo's ``HV`` itself calls, without building an indicator
    object each time (the surrogate's batch acquisition calls this thousands of times a batch);
    pymoo's ``HV`` where moocore is missing (pymoo < 0.6.2 does not bring it)."""
    ref = np.asarray(ref, dtype=float)
    F = np.asarray(F, dtype=float).reshape(-1, len(ref))
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    try:
        import moocore
    except ImportError:
        from pymoo.indicators.hv import HV

        return float(HV(ref_point=ref)(F))
    return float(moocore.hypervolume(F, ref=ref))


def knee_index(F: np.ndarray, ideal: Optional[np.ndarray] = None, nadir: Optional[np.ndarray] = None) -> int:
    """The knee of a front: the point farthest below the hyperplane through its extreme points
    (each objective's best point), after normalising each objective to [0, 1] over the front
    (Das, 1999; Deb's 'knee'; Branke et al. 2004 for the distance to the extremes' plane).

    With two objectives the plane is the line through the two extremes, whatever the front; with
    three or more it generally is not ``sum = 1``, which is why the smallest sum of normalised
    objectives is no knee there. When the extremes do not span a plane (two points, or one point
    best in two objectives) the plane ``sum = 1`` through the unit points is used: the point
    better in more objectives wins. Ties go to the point best in the first objective.
    """
    F = np.asarray(F, dtype=float)
    if len(F) == 1:
        return 0
    lo = F.min(0) if ideal is None else np.asarray(ideal, dtype=float)
    hi = F.max(0) if nadir is None else np.asarray(nadir, dtype=float)
    N = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    m = N.shape[1]
    order = np.lexsort(tuple(N[:, j] for j in reversed(range(m))))  # lexicographic: first objective first
    # each objective's best point (ties: the one best in the others, summed)
    extremes = np.array([N[min(np.flatnonzero(N[:, j] == N[:, j].min()), key=lambda i: N[i].sum())] for j in range(m)])
    w = None
    if len(F) > 2:
        try:
            w = np.linalg.solve(extremes, np.ones(m))  # the plane w . x = 1 through the extremes
        except np.linalg.LinAlgError:
            w = None
        if w is not None and (not np.all(np.isfinite(w)) or np.any(w <= 0)):
            w = None  # not a plane facing the ideal point: no meaningful "below"
    if w is None:
        w = np.ones(m)
    below = (1.0 - N @ w) / np.linalg.norm(w)
    best = below.max()
    return int(next(i for i in order if below[i] >= best - 1e-12))
