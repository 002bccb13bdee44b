"""Multi-fidelity evaluation: successive halving inside a generation.

With ``evaluation.fidelity.budgets: [b0, b1, ...]`` the rungs are ``b0 < b1 < ... < epochs``.
Every new feasible candidate of a generation trains for ``b0`` epochs; after each rung, the
candidates that are non-dominated among *everything evaluated at that budget so far* (all
objectives, the cheap ones included) move up, at most ``promote`` of the rung's candidates,
keeping the most isolated ones (largest crowding distance) when there are more. Successive
halving: Jamieson & Talwalkar, AISTATS 2016, https://arxiv.org/abs/1502.07943; non-dominated
promotion as in multi-objective ASHA (Schmucker et al., 2021, https://arxiv.org/abs/2106.12639).

Training is continued, not restarted: every rung trains with the learning-rate schedule of the
top budget (the first ``b`` epochs of an ``epochs``-long cosine schedule) and keeps its model and
optimizer state, and the next rung resumes from it. A top-budget result is therefore the same
network as a single-fidelity training (bit-identical on CPU); a rung's accuracy is that of a
network half-way through its schedule.

Determinism under replay: the promotion at rung ``k`` of generation ``g`` looks only at records
of budget ``b_k`` from generations ``<= g``, all of which exist once the rung is evaluated, in a
fresh run and in a resumed one alike - so a resumed search promotes the same candidates and finds
their results in the cache.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.moo import crowding_distance, non_dominated

Budget = Optional[int]  # epochs; None for a table lookup


def budgets(evaluation) -> Tuple[Budget, ...]:
    """The rungs of a run: the fidelity budgets then ``evaluation.epochs`` (one rung without fidelity)."""
    return tuple(evaluation.fidelity.budgets) + (evaluation.epochs,)


def promote(
    candidates: Sequence[str],
    archive: Sequence[Dict[str, Any]],
    row: Callable[[Dict[str, Any]], Sequence[float]],
    fraction: float,
) -> List[str]:
    """The candidates (arch ids) that move to the next rung.

    ``archive``: the ok records at this rung's budget from this generation and earlier (the
    candidates' own records among them); ``row(record)`` their objective vector (minimised).
    A candidate moves up when no archived record dominates it; if more than
    ``ceil(fraction * len(candidates))`` do, those with the largest crowding distance within the
    archive's front go (ties by arch id, so the choice is reproducible).
    """
    if not candidates or not archive:
        return []
    ids = [r["arch_id"] for r in archive]
    F = np.array([list(row(r)) for r in archive], dtype=float)
    mask = non_dominated(F)
    front = [i for i, m in enumerate(mask) if m]
    crowd = dict(zip((ids[i] for i in front), crowding_distance(F[front])))
    wanted = set(candidates)
    chosen = sorted((a for a in crowd if a in wanted), key=lambda a: (-crowd[a], a))
    cap = max(1, math.ceil(fraction * len(candidates)))
    return chosen[:cap]
