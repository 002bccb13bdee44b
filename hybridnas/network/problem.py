"""The network stage as a :class:`~hybridnas.network.engines.base.Problem`: gene vectors in,
objectives and constraints out.

For a batch of gene vectors :class:`NetworkProblem`

1. turns each into a :class:`~hybridnas.network.points.Point` with its cheap objectives (params,
   MACs, FLOPs: analytic and exact; latency from the run's latency table, only when asked; a
   tabular space's cost columns);
2. computes constraint violations (``max_params``, ``max_flops``, ``max_latency_ms``, and for an
   incomplete table "no row"), normalised by the limit; infeasible candidates are never
   evaluated - constraint-domination ranks them;
3. hands the feasible ones to its :class:`~hybridnas.network.scheduler.Scheduler`, which
   evaluates those not in its cache (keyed by arch id and budget) - rung by rung when
   multi-fidelity is on (:mod:`hybridnas.network.fidelity`) - and records each result;
4. returns objectives ``F`` (minimised, :func:`~hybridnas.core.objectives.objective_value`) and
   constraints ``G``.

**Budgets.** A record's ``epochs`` is its budget (``null`` for a table lookup). With multi-
fidelity, the engine sees each candidate's objectives at the highest budget it reached in this
generation (or earlier): a candidate stopped at a low rung shows the error of a network half-way
through its schedule, higher than it would reach - the pressure successive halving intends, as
it was dominated at that rung. The front, the hypervolume and every reader of the run
(:class:`~hybridnas.results.RunResults`) use the top budget only, so every accuracy they compare
comes from the same training.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import RunConfig
from ..core.moo import normalise
from ..core.objectives import ERROR, maximized, objective_value
from ..evaluate.base import Evaluator
from ..progress import Progress
from ..store import RunStore
from .engines.base import Problem
from .points import Point, Points
from .records import StageRecords
from .scheduler import Scheduler


class NetworkProblem(Problem):
    """The network stage as a problem (see the module docstring).

    Besides ``evaluate`` it gives the budget (``budget_prefix``, ``exhausted``: its scheduler's),
    the cheap objectives and constraints without evaluating (``cheap``), and the archive of
    evaluated networks read from ``evaluations.jsonl`` (``archive``) for the surrogate loop.
    ``reference``: the run's ``hv_reference.json``, by which ``normalise`` scales objectives.
    """

    def __init__(self, cfg: RunConfig, points: Points, evaluator: Evaluator, store: RunStore, progress: Progress,
                 callbacks=None, reference: Optional[Dict[str, Any]] = None):
        self.points = points
        self.objectives = tuple(cfg.objectives)
        self.maximize = maximized(cfg)
        self.reference = reference
        c = cfg.constraints
        self.limits = [(k, v) for k, v in (("params", c.max_params), ("flops", c.max_flops),
                                           ("latency", c.max_latency_ms)) if v is not None]
        spec = points.spec
        self.n_var = spec.n_var
        self.n_obj = len(self.objectives)
        self.n_constr = len(self.limits) + (1 if points.sparse else 0)
        self.xl, self.xu = spec.xl, spec.xu
        self.integer = True
        self.vtypes = spec.vtypes
        self.expensive = [o not in points.cheap_objectives for o in self.objectives]
        self.records = StageRecords(store)
        self.scheduler = Scheduler(cfg.seed, cfg.evaluation, cfg.engine.evaluations, points, evaluator, self.records,
                                   progress, self.row, callbacks)
        self._worst_memo: Dict[str, Tuple[int, float]] = {}  # objective -> (cache size, worst value)

    def worst(self, name: str) -> float:
        """The value given to a candidate that has none for objective ``name`` (a network with no
        table row - infeasible, so ranked by its violation - or a failed evaluation): 1 for the
        error, else the worst value among the networks evaluated so far (1 before any). Read from
        evaluations only: the search never looks at a table row it has not evaluated."""
        if name == ERROR:
            return 1.0
        memo, cache = self._worst_memo, self.scheduler.cache
        if memo.get(name, (None,))[0] != len(cache):
            seen = [objective_value(r, name, self.maximize) for r in cache.values()
                    if r.get("status") == "ok" and name in r]
            memo[name] = (len(cache), max(seen) if seen else 1.0)
        return memo[name][1]

    def row(self, record: Dict[str, Any]) -> List[float]:
        """A record's objective vector (minimised)."""
        return [objective_value(record, o, self.maximize) for o in self.objectives]

    def violations(self, point: Point) -> List[float]:
        if not point.found:
            return [1.0] * self.n_constr
        g = [point.cheap[k] / limit - 1.0 for k, limit in self.limits]
        return g + ([0.0] if self.points.sparse else [])

    def _cheap_value(self, point: Point, name: str) -> float:
        v = point.cheap[name]
        return -v if name in self.maximize else v

    # ------------------------------------------------------------------ budget

    def budget_prefix(self, X: np.ndarray) -> int:
        """Leading rows of ``X`` the budget pays for (:meth:`Scheduler.affordable`)."""
        if self.scheduler.limit is None:
            return len(X)
        pts = self.points.points(X)
        return self.scheduler.affordable([p.arch_id for p in pts],
                                         [not any(v > 0 for v in self.violations(p)) for p in pts])

    @property
    def exhausted(self) -> bool:
        return self.scheduler.exhausted

    # ------------------------------------------------------------------ for the surrogate loop

    def cheap(self, X: np.ndarray):
        """Cheap objectives (NaN where an evaluation is needed) and constraints, evaluating nothing."""
        pts = self.points.points(X)
        G = np.array([self.violations(p) for p in pts], dtype=float).reshape(len(X), self.n_constr)
        F = np.full((len(X), self.n_obj), np.nan)
        for n, p in enumerate(pts):
            for j, name in enumerate(self.objectives):
                if not self.expensive[j]:
                    v = p.cheap.get(name)
                    F[n, j] = self.worst(name) if v is None else (-v if name in self.maximize else v)
        return F, G

    def archive(self, generation: int):
        """``(X, F)`` of the networks evaluated before ``generation``, read from evaluations.jsonl:
        per network the result at the highest budget it reached (what the engine was shown). A
        failed evaluation is in it with the worst values (:meth:`worst`) and its exact cheap
        objectives, so that a predictor learns where networks fail."""
        best: Dict[str, Dict[str, Any]] = {}
        for r in self.records.evaluations():
            if r.get("generation", 0) >= generation or "x" not in r:
                continue
            old = best.get(r["arch_id"])
            if old is None or (r.get("epochs") or 0) >= (old.get("epochs") or 0):
                best[r["arch_id"]] = r
        rows = list(best.values())
        X = np.array([r["x"] for r in rows], dtype=int).reshape(len(rows), self.n_var)
        F = np.zeros((len(rows), self.n_obj))
        failed = [n for n, r in enumerate(rows) if r.get("status") != "ok"]
        for n, r in enumerate(rows):
            if r.get("status") == "ok":
                F[n] = self.row(r)
        if failed:
            cheap, _ = self.cheap(X[failed])
            for i, n in enumerate(failed):
                F[n] = [self.worst(o) if self.expensive[j] else cheap[i, j] for j, o in enumerate(self.objectives)]
        return X, F

    def normalise(self, F: np.ndarray) -> Optional[np.ndarray]:
        """Objectives scaled as the run's hypervolume scales them (costs on log10), or None."""
        ref = self.reference
        if ref is None:
            return None
        return normalise(F, ref["lower"], ref["upper"], ref["log_scale"])

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, X: np.ndarray, notes: Optional[Sequence[Dict[str, Any]]] = None):
        X = np.asarray(X, dtype=int).reshape(len(X), self.n_var)
        pts = self.points.points(X)
        G = np.array([self.violations(p) for p in pts], dtype=float).reshape(len(X), self.n_constr)
        feasible = np.all(G <= 0, axis=1)
        results = self.scheduler.submit(pts, feasible, X, notes)
        F = np.zeros((len(X), self.n_obj))
        for n, (p, ok) in enumerate(zip(pts, feasible)):
            rec = results.get(p.arch_id) if ok else None
            for j, name in enumerate(self.objectives):
                if name in p.cheap:
                    F[n, j] = self._cheap_value(p, name)
                elif rec is not None and (name == ERROR or name in rec):
                    F[n, j] = objective_value(rec, name, self.maximize)
                else:
                    F[n, j] = self.worst(name)
        return F, G
