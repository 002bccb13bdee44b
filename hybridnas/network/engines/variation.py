"""Variation of typed integer genes: the operator maths every engine shares, and the search history.

Each variable type has its own crossover and mutation (:data:`VARIATION`); the pymoo engine wraps
them as pymoo operators (:mod:`.pymoo_operators`), the DEAP engine calls them directly, so both
engines vary genes the same way:

- **crossover**: uniform - each gene of the two children comes from one parent or the other with
  probability 1/2 (both types; a categorical gene has no "between");
- **mutation**: each gene changes with probability ``rate`` (default 1 / number of free genes);
  a child that drew no change gets one gene, chosen uniformly, changed - so every child differs
  from its crossover result. A *change* always gives another value: ``categorical`` and
  ``binary`` genes reset to one of the other values uniformly (a flip for two values);
  ``ordinal`` genes step to a neighbour (either side with equal probability; the only one at a
  bound) with probability ``step``, else reset like a categorical gene.

The realised per-gene rate is therefore ``rate + (1 - rate)^n / n`` for ``n`` free genes (about
``1.37 / n`` at the default rate); ``tests/engines/test_variation.py`` measures it over many draws.

Why not pymoo's defaults: SBX and polynomial mutation with rounding change about 0.8 % of genes
of 2-5 values per child, only ever to a neighbour, and never flip a binary gene; pymoo's
``MixedVariableGA`` mutates each choice with probability 0.5, close to random search.

:class:`History` holds every gene vector an engine has sent for evaluation (and, on a resume,
replayed): offspring already in it are rejected, so no network is proposed twice in a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Sequence, Tuple

import numpy as np

ORDINAL_STEP = 0.5  # probability that an ordinal mutation is a step rather than a reset
CROSSOVER_SWAP = 0.5  # probability that a gene comes from the other parent (uniform crossover)


def uniform_swap(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Uniform crossover of two columns of parents: each position swapped with probability 1/2."""
    m = rng.random(a.shape) < CROSSOVER_SWAP
    return np.where(m, b, a), np.where(m, a, b)


def reset(v: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Another value, uniformly among the other ``hi - lo`` ones (a flip for a binary gene)."""
    size = hi - lo + 1
    return lo + (v - lo + rng.integers(1, size, size=v.shape)) % size


def step_or_reset(v: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """A neighbouring value with probability :data:`ORDINAL_STEP`, else :func:`reset`."""
    step = rng.random(v.shape) < ORDINAL_STEP
    up = rng.random(v.shape) < 0.5
    d = np.where(v <= lo, 1, np.where(v >= hi, -1, np.where(up, 1, -1)))
    return np.where(step, v + d, reset(v, lo, hi, rng))


@dataclass(frozen=True)
class Variation:
    crossover: Callable[[np.ndarray, np.ndarray, np.random.Generator], Tuple[np.ndarray, np.ndarray]]
    mutation: Callable[[np.ndarray, int, int, np.random.Generator], np.ndarray]


# variable type -> its operators: the one table both engines read
VARIATION: Dict[str, Variation] = {
    "ordinal": Variation(uniform_swap, step_or_reset),
    "categorical": Variation(uniform_swap, reset),
    "binary": Variation(uniform_swap, reset),
}


def crossover(A: np.ndarray, B: np.ndarray, vtypes: Sequence[str], rng: np.random.Generator):
    """Children of the parent rows ``A[i]`` x ``B[i]``, each variable type by its own operator."""
    A, B = np.array(A, dtype=int), np.array(B, dtype=int)
    C, D = A.copy(), B.copy()
    for t, op in VARIATION.items():
        cols = np.flatnonzero(np.asarray(vtypes) == t)
        if len(cols):
            C[:, cols], D[:, cols] = op.crossover(A[:, cols], B[:, cols], rng)
    return C, D


def mutate(X: np.ndarray, vtypes: Sequence[str], xl, xu, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Each free gene of each row changes with probability ``rate``; a row with no change gets one."""
    X = np.array(X, dtype=int)
    xl, xu = np.asarray(xl, dtype=int), np.asarray(xu, dtype=int)
    free = np.flatnonzero(xu > xl)
    if X.size == 0 or len(free) == 0:
        return X
    chosen = np.zeros(X.shape, dtype=bool)
    chosen[:, free] = rng.random((len(X), len(free))) < rate
    none = ~chosen.any(axis=1)
    if none.any():
        chosen[np.flatnonzero(none), free[rng.integers(0, len(free), size=int(none.sum()))]] = True
    for j in free:
        rows = np.flatnonzero(chosen[:, j])
        if len(rows):
            X[rows, j] = VARIATION[vtypes[j]].mutation(X[rows, j], int(xl[j]), int(xu[j]), rng)
    return X


def neighbours(x, xl, xu, edits: int = 1) -> np.ndarray:
    """Every gene vector that differs from ``x`` in exactly ``edits`` (1 or 2) genes, each changed
    to any other value of its range (the local-search neighbourhood of White et al., "Local search
    is state of the art for NAS benchmarks", 2020), in a fixed order: genes left to right, values
    upward."""
    x = np.asarray(x, dtype=int)
    xl, xu = np.asarray(xl, dtype=int), np.asarray(xu, dtype=int)
    single = [(j, v) for j in range(len(x)) for v in range(xl[j], xu[j] + 1) if v != x[j]]
    out = []
    if edits == 1:
        for j, v in single:
            y = x.copy()
            y[j] = v
            out.append(y)
    elif edits == 2:
        for a, (j, v) in enumerate(single):
            for k, w in single[a + 1:]:
                if k != j:
                    y = x.copy()
                    y[j], y[k] = v, w
                    out.append(y)
    else:
        raise ValueError(f"edits must be 1 or 2, got {edits}")
    return np.array(out, dtype=int).reshape(len(out), len(x))


def is_typed(vtypes: Sequence[str]) -> bool:
    """Whether every variable has typed operators (else the problem is real-valued)."""
    return all(t in VARIATION for t in vtypes)


class History:
    """Every gene vector sent for evaluation in this run (all generations, replayed on resume)."""

    def __init__(self):
        self._seen: set = set()
        self.rejected = 0  # offspring dropped because they repeated an earlier proposal

    @staticmethod
    def key(x) -> tuple:
        return tuple(np.asarray(x).tolist())

    def __contains__(self, x) -> bool:
        return self.key(x) in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, X: Iterable) -> None:
        for x in X:
            self._seen.add(self.key(x))

    def new(self, X: np.ndarray) -> np.ndarray:
        """Mask of the rows of ``X`` neither in the history nor repeated earlier in ``X``;
        counts the others as rejected."""
        seen, keep = set(), []
        for x in X:
            k = self.key(x)
            keep.append(k not in self._seen and k not in seen)
            seen.add(k)
        keep = np.array(keep, dtype=bool)
        self.rejected += int((~keep).sum())
        return keep
