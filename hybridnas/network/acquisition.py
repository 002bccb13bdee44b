"""Batch acquisition of the surrogate loop: greedy Monte-Carlo expected hypervolume improvement.

Each candidate has, per objective, a predictive distribution - a normal ``N(mean, spread)`` on
the scale the predictor was fitted on (an exact value for a cheap objective) - from which
:class:`Samples` draws ``S`` joint outcomes, mapped back to objective units and normalised. A
batch is chosen greedily (qEHVI-style, Daulton et al., NeurIPS 2020, with sequential greedy
selection): in each of the ``S`` sampled worlds the set is the measured front plus the outcomes
of the candidates picked so far in that world, and the next pick is the one with the largest
hypervolume improvement averaged over the worlds. Uncertainty therefore counts where it matters:
a candidate whose mean sits just behind the front but whose spread reaches past it has a
positive expected gain, one with the same mean and no spread has none.

Hypervolumes are exact (:func:`hybridnas.core.moo.hypervolume`); a cheap
optimistic bound pre-selects the candidates worth sampling.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from ..core.moo import hypervolume

SAMPLES = 32  # Monte-Carlo outcomes per candidate
OPTIMISTIC = 2.0  # pre-selection: a candidate's outcome at mean - OPTIMISTIC x spread


def improvement(S: np.ndarray, hv_S: float, y: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume ``y`` adds to the set ``S`` (whose hypervolume is ``hv_S``)."""
    if not np.all(y < ref) or (len(S) and np.any(np.all(S <= y, axis=1))):
        return 0.0
    return max(hypervolume(np.vstack([S, y[None]]), ref) - hv_S, 0.0)


class Samples:
    """``S`` joint outcomes per candidate, normalised: ``values[k, s]`` is candidate ``k`` in world ``s``.

    ``mean``/``spread``: per candidate and objective, on the fitted scale (spread 0: exact);
    ``inverse``: per objective, the map from that scale back to objective units;
    ``scale``: objective units to the normalised space the hypervolume is measured in.
    """

    def __init__(self, mean: np.ndarray, spread: np.ndarray, inverse, scale, rng: np.random.Generator,
                 samples: int = SAMPLES):
        mean, spread = np.asarray(mean, float), np.asarray(spread, float)
        eps = rng.standard_normal((len(mean), samples, mean.shape[1]))
        Z = mean[:, None, :] + spread[:, None, :] * eps
        Y = np.stack([inverse[j](Z[..., j]) for j in range(mean.shape[1])], axis=-1)
        self.values = scale(Y.reshape(-1, mean.shape[1])).reshape(Y.shape)
        O = np.stack([inverse[j](mean[:, j] - OPTIMISTIC * spread[:, j]) for j in range(mean.shape[1])], axis=-1)
        self.optimistic = scale(O)


def greedy_ehvi(samples: Samples, front: np.ndarray, ref: np.ndarray, phases: Sequence[Tuple],
                shortlist: int = 64) -> List[Tuple[int, int, float]]:
    """Candidates picked greedily by Monte-Carlo expected hypervolume improvement over ``front``
    (normalised) and the picks before them, in ``phases``: ``(pool, n)`` or ``(pool, n, ref)`` -
    up to ``n`` picks from the candidates ``pool``, their gains measured against the phase's
    reference point (``ref`` when it has none), then the next phase (its picks count in the
    worlds). A phase ends early when no candidate left in its pool has a positive expected gain.
    Returns ``(candidate, phase, expected gain)`` per pick.

    Only the ``shortlist`` candidates of a pool with the largest optimistic improvement over the
    front are sampled, and gains are re-evaluated lazily: a world's hypervolume improvement only
    shrinks as picks join it (it is submodular), so a stale gain is an upper bound."""
    V = samples.values
    S = V.shape[1]
    base = np.asarray(front, float).reshape(-1, len(ref))
    worlds = [base.copy() for _ in range(S)]
    out: List[int] = []
    picks: List[Tuple[int, int, float]] = []
    for phase, spec in enumerate(phases):
        members, n = spec[0], spec[1]
        r = np.asarray(spec[2] if len(spec) > 2 and spec[2] is not None else ref, float)
        hv_base = hypervolume(base, r)
        hv = np.array([hypervolume(w, r) for w in worlds]) if out else np.full(S, hv_base)
        bound = {}  # candidate -> optimistic improvement over the measured front
        upper = {}  # candidate -> its expected gain when last computed (an upper bound now)

        def expected(k: int) -> float:
            return float(np.mean([improvement(worlds[s], hv[s], V[k, s], r) for s in range(S)]))

        for _ in range(n):
            pool = [k for k in members if k not in out]
            for k in pool:
                if k not in bound:
                    bound[k] = improvement(base, hv_base, samples.optimistic[k], r)
            short = sorted((k for k in pool if bound[k] > 0), key=lambda k: (-bound[k], k))[:shortlist]
            fresh = set()
            best = None
            while short:
                for k in short:
                    if k not in upper:
                        upper[k] = expected(k)
                        fresh.add(k)
                k = max(short, key=lambda c: (upper[c], -c))
                if k in fresh or upper[k] <= 0:
                    best = k
                    break
                upper[k] = expected(k)
                fresh.add(k)
            if best is None or upper[best] <= 1e-15:
                break
            out.append(best)
            picks.append((best, phase, upper[best]))
            for s in range(S):
                g = improvement(worlds[s], hv[s], V[best, s], r)
                if g > 0:
                    hv[s] += g
                # every pick joins its worlds, whether or not it adds at this phase's reference:
                # a later phase measures against its own
                worlds[s] = np.vstack([worlds[s], V[best, s][None]])
    return picks
