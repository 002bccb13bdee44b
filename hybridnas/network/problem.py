"""What the network-level engines optimise: the problem protocol and its free-variable view.

An engine sees only a :class:`Problem`: bounds, the type of each variable, and a batch
``evaluate(X) -> (F, G)`` (objectives minimised; constraints feasible when ``<= 0``). The network
search (:mod:`hybridnas.network.search`) is one such problem; tests use ZDT problems as others.

Optional parts, with defaults that suit a plain test problem:

- ``vtypes``: per variable, ``ordinal``, ``categorical`` or ``binary`` (integer problems) - how
  the engines vary it; ``None`` means every variable is ordinal (or real when not ``integer``);
- ``budget_prefix(X)`` / ``exhausted``: an evaluation budget (distinct evaluations); an engine
  sends only the rows the budget still pays for, and stops once it is spent;
- for the surrogate loop (:mod:`hybridnas.network.surrogate`): ``expensive`` (which objectives
  need an evaluation), ``cheap(X)`` (the other objectives and the constraints, without
  evaluating), and ``archive(generation)`` (what was evaluated before a generation, read from
  the problem's own records).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np


class Problem:
    n_var: int
    n_obj: int
    n_constr: int = 0
    xl: np.ndarray
    xu: np.ndarray
    integer: bool = True
    vtypes: Optional[Sequence[str]] = None
    expensive: Optional[Sequence[bool]] = None  # per objective; None: all of them

    def evaluate(self, X: np.ndarray, notes: Optional[Sequence[Dict[str, Any]]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Objectives and constraints of the rows of ``X``; ``notes`` (one dict per row, from the
        engine, e.g. a prediction) may be kept with the results."""
        raise NotImplementedError

    def budget_prefix(self, X: np.ndarray) -> int:
        """How many leading rows of ``X`` the evaluation budget still pays for (all: no budget)."""
        return len(X)

    @property
    def exhausted(self) -> bool:
        return False

    def cheap(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Objectives known without evaluating (NaN where expensive) and the constraints."""
        raise NotImplementedError(f"{type(self).__name__} cannot give objectives without evaluating")

    def archive(self, generation: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """``(X, F)`` of the successful evaluations made before ``generation``, from the problem's
        records; ``None`` when the problem keeps none (the engine then remembers what it saw)."""
        return None

    def normalise(self, F: np.ndarray) -> Optional[np.ndarray]:
        """Objectives scaled to about [0, 1] as the problem's hypervolume measures them, or None."""
        return None


def variable_types(problem: Problem) -> List[str]:
    """Each variable's type: the problem's ``vtypes``, else ordinal (integer) or real."""
    if getattr(problem, "vtypes", None) is not None:
        return list(problem.vtypes)
    return ["ordinal" if problem.integer else "real"] * problem.n_var


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
        self.vtypes = [t for t, f in zip(variable_types(problem), self.free) if f]
        self.expensive = getattr(problem, "expensive", None)
        self.names = getattr(problem, "objectives", None) or getattr(problem, "names", None)

    def full(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        out = np.tile(self.fixed_values.astype(X.dtype if not self.integer else int), (len(X), 1))
        out[:, self.free] = np.rint(X) if self.integer else X
        return out

    def evaluate(self, X: np.ndarray, notes=None):
        if notes is None:
            return self.inner.evaluate(self.full(X))
        return self.inner.evaluate(self.full(X), notes)

    def budget_prefix(self, X: np.ndarray) -> int:
        return self.inner.budget_prefix(self.full(X)) if len(X) else 0

    @property
    def exhausted(self) -> bool:
        return self.inner.exhausted

    def cheap(self, X: np.ndarray):
        return self.inner.cheap(self.full(X))

    def normalise(self, F: np.ndarray):
        return self.inner.normalise(F)

    def archive(self, generation: int):
        got = self.inner.archive(generation)
        if got is None:
            return None
        X, F = got
        return np.asarray(X).reshape(len(X), -1)[:, self.free], F
