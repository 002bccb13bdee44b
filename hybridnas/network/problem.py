"""What the network-level engines optimise: the problem protocol and its free-variable view.

An engine sees only a :class:`Problem`: bounds, whether variables are integers, and a batch
``evaluate(X) -> (F, G)`` (objectives minimised; constraints feasible when ``<= 0``). The network
search (:mod:`hybridnas.network.search`) is one such problem; tests use ZDT problems as others.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


class Problem:
    n_var: int
    n_obj: int
    n_constr: int = 0
    xl: np.ndarray
    xu: np.ndarray
    integer: bool = True

    def evaluate(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class FreeView(Problem):
    """The same problem without the genes fixed by their bounds (``xl == xu``).

    Variation operators divide by ``xu - xl``; a gene with one value has nothing to search.
    """

    def __init__(self, problem: Problem):
        self.inner = problem
        self.free = np.asarray(problem.xl) < np.asarray(problem.xu)
        self.fixed_values = np.asarray(problem.xl)
        self.n_var = int(self.free.sum())
        self.n_obj = problem.n_obj
        self.n_constr = problem.n_constr
        self.xl = np.asarray(problem.xl)[self.free]
        self.xu = np.asarray(problem.xu)[self.free]
        self.integer = problem.integer

    def full(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        out = np.tile(self.fixed_values.astype(X.dtype if not self.integer else int), (len(X), 1))
        out[:, self.free] = np.rint(X) if self.integer else X
        return out

    def evaluate(self, X: np.ndarray):
        return self.inner.evaluate(self.full(X))
