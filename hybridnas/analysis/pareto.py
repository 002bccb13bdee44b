"""Pareto dominance, hypervolume and normalisation (all objectives minimised)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` that no other row dominates (duplicates all kept)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated_by = np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1)
        if dominated_by.any():
            keep[i] = False
    return keep


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of a front: the normalised side lengths of the box
    spanned by its neighbours, summed over objectives; the extremes of each objective get inf."""
    F = np.asarray(F, dtype=float)
    n, m = F.shape if F.ndim == 2 else (len(F), 0)
    d = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        span = F[order[-1], j] - F[order[0], j]
        d[order[0]] = d[order[-1]] = np.inf
        if span > 0:
            d[order[1:-1]] += (F[order[2:], j] - F[order[:-2], j]) / span
    return d


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
    """Hypervolume dominated by ``F`` up to ``ref`` (points beyond ``ref`` contribute nothing)."""
    F = np.asarray(F, dtype=float)
    ref = np.asarray(ref, dtype=float)
    if F.size == 0:
        return 0.0
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(F))


def knee_index(F: np.ndarray, ideal: Optional[np.ndarray] = None, nadir: Optional[np.ndarray] = None) -> int:
    """The knee of a front: the point farthest below the hyperplane through the extremes,
    after normalising each objective to [0, 1] over the front (Das, 1999; Deb's 'knee')."""
    F = np.asarray(F, dtype=float)
    if len(F) <= 2:
        return 0 if len(F) == 1 else int(np.argmin(F.sum(1)))
    lo = F.min(0) if ideal is None else ideal
    hi = F.max(0) if nadir is None else nadir
    N = (F - lo) / np.where(hi > lo, hi - lo, 1.0)
    # distance below the plane sum(N) = 1 through the normalised extreme points
    return int(np.argmin(N.sum(1)))
