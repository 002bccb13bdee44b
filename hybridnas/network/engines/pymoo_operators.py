"""The typed variation of :mod:`.variation` as pymoo operators, and duplicate elimination against
the whole search history. Imported only by the pymoo engine (pymoo loads when a search starts)."""

from __future__ import annotations

import numpy as np
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation

from .variation import History, crossover, mutate


class TypedCrossover(Crossover):
    """Two parents, two children; each variable type crossed by its operator (uniform)."""

    def __init__(self, vtypes, prob: float = 0.9, **kwargs):
        super().__init__(2, 2, prob=prob, **kwargs)
        self.vtypes = list(vtypes)

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        A, B = crossover(X[0], X[1], self.vtypes, random_state)
        return np.stack([A, B])


class TypedMutation(Mutation):
    """Each free gene changes with ``prob_var`` (at least one per child), by its type's operator."""

    def __init__(self, vtypes, prob_var: float, **kwargs):
        super().__init__(prob=1.0, prob_var=prob_var, **kwargs)
        self.vtypes = list(vtypes)
        self.rate = float(prob_var)

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        return mutate(X, self.vtypes, problem.xl, problem.xu, self.rate, random_state)


class HistoryElimination(DuplicateElimination):
    """Drops offspring that repeat anything in ``history`` (every vector the run has sent for
    evaluation), the other populations given (the offspring so far), or each other."""

    def __init__(self, history: History):
        super().__init__()
        self.history = history

    def do(self, pop, *args, return_indices=False, to_itself=True):
        if len(pop) == 0:
            return (pop, [], []) if return_indices else pop
        others = {History.key(x) for arg in args if len(arg) for x in arg.get("X")}
        X = pop.get("X")
        keep = self.history.new(X)
        for i, x in enumerate(X):
            if keep[i] and History.key(x) in others:
                keep[i] = False
                self.history.rejected += 1
        out = pop[keep]
        if return_indices:
            return out, list(np.flatnonzero(keep)), list(np.flatnonzero(~keep))
        return out
