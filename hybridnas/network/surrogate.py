"""Surrogate-assisted search: learn from what was evaluated, evaluate only what looks best.

The loop of NSGANetV2 / MSuNAS (Lu et al., "NSGANetV2: Evolutionary Multi-Objective Surrogate-
Assisted Neural Architecture Search", ECCV 2020, Algorithm 1; github.com/mikelzc1990/nsganetv2),
with the selection and exploration parts our own:

1. **Design** (generation 0): ``initial`` distinct random networks that meet the constraints
   (checked on the cheap objectives) are evaluated.
2. Each further generation (an *iteration*):

   a. read the archive - every network evaluated in earlier generations, from the problem's
      records (``evaluations.jsonl``), never from memory, so a resumed search refits exactly
      what the uninterrupted one fitted;
   b. for each expensive objective (error; a table's non-cost columns), fit every candidate
      predictor on the gene encoding (:class:`Encoder`) and keep the one whose out-of-fold
      predictions rank the archive best (k-fold Kendall tau; :mod:`.predictors`);
   c. run the configured engine (pymoo or DEAP NSGA-II) for ``inner_generations`` on predicted
      expensive objectives and the exact cheap ones and constraints (params, FLOPs, latency,
      table cost columns), starting from the archive's front;
   d. choose ``batch`` networks never sent before from everything the inner search visited: the
      first ``(1 - explore)`` share by greedy hypervolume improvement over the archive's front
      under the predicted means, the rest by the same rule under optimistic predictions (mean
      minus :data:`OPTIMISM` spreads) - exploration where the predictor is unsure;
   e. evaluate the batch; every record carries its prediction (``predicted``,
      ``predicted_std``, ``predictor``, ``selected_by``), and the stage writes
      ``surrogate/iter_NNN.json`` with the predictor's Kendall tau, Spearman rho and RMSE on the
      batch alone (NSGANetV2's check mixes in the points the predictor was fitted on).

The engine's own rules apply: nothing is sent twice (the run's history), the evaluation budget is
spent in distinct networks, and the loop is deterministic given the objective values (seeded
predictors, seeded inner searches), which is what makes a resume a replay.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..device import derive_seed
from .engines import Engine
from .engines.variation import History, is_typed
from .predictors import AUTO, select
from .predictors import build as build_predictor
from .problem import Problem, variable_types

OPTIMISM = 1.0  # exploration: a candidate's expensive objectives as mean - OPTIMISM x spread


class Encoder:
    """Genes as predictor features: one-hot categorical and binary genes, ordinal genes scaled to [0, 1]."""

    def __init__(self, vtypes: Sequence[str], xl, xu):
        self.vtypes = list(vtypes)
        self.xl = np.asarray(xl, dtype=int)
        self.xu = np.asarray(xu, dtype=int)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=int).reshape(-1, len(self.vtypes))
        cols = []
        for j, t in enumerate(self.vtypes):
            lo, hi = self.xl[j], self.xu[j]
            if hi == lo:
                continue
            if t == "ordinal":
                cols.append(((X[:, j] - lo) / (hi - lo))[:, None])
            else:
                cols.append((X[:, j][:, None] == np.arange(lo, hi + 1)[None, :]).astype(float))
        return np.hstack(cols) if cols else np.zeros((len(X), 0))


def prediction_quality(actual: Sequence[float], predicted: Sequence[float]) -> Dict[str, Any]:
    """Kendall's tau, Spearman's rho and the RMSE of predictions against what was measured."""
    from scipy.stats import spearmanr

    from .predictors import kendall_tau

    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    out: Dict[str, Any] = {"n": int(len(a))}
    if len(a) >= 2:
        tau = kendall_tau(a, p)
        rho = spearmanr(a, p).statistic if np.ptp(a) > 0 and np.ptp(p) > 0 else float("nan")
        out.update(kendall_tau=None if not np.isfinite(tau) else tau,
                   spearman_rho=None if not np.isfinite(rho) else float(rho))
    if len(a):
        out["rmse"] = float(np.sqrt(np.mean((a - p) ** 2)))
    return out


class Predicted(Problem):
    """The inner search's problem: predicted expensive objectives, exact cheap ones and constraints;
    networks already evaluated show what they measured. Keeps every point it was asked about."""

    def __init__(self, outer: Problem, models: Dict[int, Any], encoder: Encoder, known: Dict[tuple, np.ndarray],
                 has_cheap: bool):
        self.outer = outer
        self.models = models
        self.encoder = encoder
        self.known = known
        self.has_cheap = has_cheap
        self.n_var, self.n_obj, self.n_constr = outer.n_var, outer.n_obj, outer.n_constr
        self.xl, self.xu, self.integer = outer.xl, outer.xu, True
        self.vtypes = variable_types(outer)
        self.visited: Dict[tuple, Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def predict(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(F, spread, G)``: cheap objectives exact, expensive ones predicted (spread 0 elsewhere)."""
        if self.has_cheap:
            F, G = self.outer.cheap(X)
        else:
            F, G = np.full((len(X), self.n_obj), np.nan), np.zeros((len(X), 0))
        S = np.zeros_like(F)
        Z = self.encoder(X)
        for j, model in self.models.items():
            F[:, j], S[:, j] = model.predict(Z)
        return F, S, np.asarray(G, float).reshape(len(X), self.n_constr)

    def evaluate(self, X, notes=None):
        X = np.asarray(X, dtype=int).reshape(len(X), self.n_var)
        F, S, G = self.predict(X)
        for n, x in enumerate(X):
            k = History.key(x)
            if k in self.known:
                F[n], S[n] = self.known[k], 0.0
            self.visited.setdefault(k, (x.copy(), F[n].copy(), S[n].copy(), G[n].copy()))
        return F, G


class SurrogateSearch(Engine):
    """The surrogate-assisted loop around an engine (module docstring): an engine itself, so the
    network stage runs it like any other."""

    name = "surrogate"

    def __init__(self, cfg, inner: Engine):
        self.inner_cls = type(inner)
        self.algorithms = inner.algorithms
        super().__init__(cfg)
        self.name = f"surrogate-{inner.name}"

    # ------------------------------------------------------------------ the loop

    def _minimize(self, problem, evaluate, seed, report, initial):
        from ..errors import UserError

        vtypes = variable_types(problem)
        if not (problem.integer and is_typed(vtypes)):
            raise UserError("the surrogate loop searches integer genes only; set engine.surrogate.enabled=false")
        sg = self.cfg.surrogate
        rng = np.random.default_rng(seed)
        self.encoder = Encoder(vtypes, problem.xl, problem.xu)
        expensive = list(problem.expensive) if problem.expensive is not None else [True] * problem.n_obj
        self.expensive = [j for j, e in enumerate(expensive) if e]
        self.names = list(getattr(problem, "names", None) or [f"f{j}" for j in range(problem.n_obj)])
        self.has_cheap = self._has_cheap(problem)
        if not self.has_cheap and problem.n_constr:
            raise UserError("the surrogate loop needs constraints it can check without evaluating")
        self.memory: List[Tuple[int, np.ndarray, np.ndarray]] = []  # (generation, x, f) for problems without records
        batch = sg.batch or self.cfg.pop_size

        if not self.running(0, problem):
            return
        X = self._design(problem, rng, sg.initial or self.cfg.pop_size, initial)
        X = X[: self.affordable(problem, X)]
        if not len(X):
            return
        F, G = evaluate(X, [{"selected_by": "design"}] * len(X))
        self._remember(0, X, F, G)
        report(0, X, F, G, {"surrogate": {"phase": "design", "size": int(len(X))}})

        gen = 1
        while self.running(gen, problem):
            Xa, Fa = self._archive(problem, gen)
            if len(Xa) < 4:  # nothing to learn from yet (everything failed): another random batch
                X = self._design(problem, rng, batch, None)
                info = {"phase": "design", "size": int(len(X))}
                notes = [{"selected_by": "design"}] * len(X)
            else:
                from threadpoolctl import threadpool_limits

                # small fits: BLAS threads only contend (10-50x slower on a busy 2-core machine, measured)
                with threadpool_limits(1):
                    X, notes, info = self._propose(problem, Xa, Fa, batch, derive_seed(seed, "surrogate", gen))
            X = X[: self.affordable(problem, X)]
            if not len(X):
                break
            F, G = evaluate(X, notes[: len(X)])
            self._remember(gen, X, F, G)
            report(gen, X, F, G, {"surrogate": info})
            gen += 1

    def _propose(self, problem, Xa, Fa, batch, seed):
        """Fit the predictors, search on them, choose the batch: ``(X, notes, info)``."""
        sg = self.cfg.surrogate
        Z = self.encoder(Xa)
        names = list(AUTO) if sg.predictor == "auto" else [sg.predictor]
        models, chosen, taus = {}, {}, {}
        for j in self.expensive:
            name, tau = select(names, Z, Fa[:, j], sg.folds, seed)
            models[j] = build_predictor(name, seed).fit(Z, Fa[:, j])
            chosen[self.names[j]], taus[self.names[j]] = name, {k: _num(v) for k, v in tau.items()}
        known = {History.key(x): f for x, f in zip(Xa, Fa)}
        inner = Predicted(problem, models, self.encoder, known, self.has_cheap)
        cfg = dataclasses.replace(self.cfg, pop_size=sg.inner_pop, generations=sg.inner_generations, evaluations=None,
                                  surrogate=dataclasses.replace(sg, enabled=False))
        nd = _front_mask(Fa)
        self.inner_cls(cfg).minimize(inner, seed, lambda *a: None, initial=Xa[nd][: sg.inner_pop])
        pool = [v for k, v in inner.visited.items() if k not in self.history and k not in known
                and (not len(v[3]) or np.all(v[3] <= 0))]
        X, picked_by = self._choose(problem, pool, Fa[nd], batch)
        if len(X) < batch:  # the inner search saw too few unseen networks: top up at random
            taken = {History.key(x) for x in X}
            extra = [x for x in self._design(problem, np.random.default_rng(seed), batch, None)
                     if History.key(x) not in taken and History.key(x) not in known][: batch - len(X)]
            if extra:
                inner.evaluate(np.array(extra))  # their predictions, for the records
                X = np.vstack([X, np.array(extra)]).astype(int)
                picked_by = picked_by + ["random"] * len(extra)
        notes = []
        for x, how in zip(X, picked_by):
            _, f, s, _ = inner.visited[History.key(x)]
            notes.append({
                "predicted": {self.names[j]: float(f[j]) for j in self.expensive},
                "predicted_std": {self.names[j]: float(s[j]) for j in self.expensive},
                "predictor": dict(chosen),
                "selected_by": how,
            })
        info = {"phase": "surrogate", "predictor": chosen, "cv_kendall_tau": taus, "train_size": int(len(Xa)),
                "candidates": len(pool), "size": int(len(X))}
        return X, notes, info

    def _choose(self, problem, pool, front: np.ndarray, batch: int) -> Tuple[np.ndarray, List[str]]:
        """Greedy hypervolume improvement over ``front``: exploitation under predicted means, then
        exploration under optimistic predictions (mean - OPTIMISM x spread)."""
        if not pool:
            return np.zeros((0, problem.n_var), dtype=int), []
        Xc = np.array([v[0] for v in pool])
        mean = np.array([v[1] for v in pool])
        optimistic = mean - OPTIMISM * np.array([v[2] for v in pool])
        norm = self._normaliser(problem, np.vstack([front, mean, optimistic]))
        n_explore = int(round(self.cfg.surrogate.explore * batch))
        chosen: List[int] = []
        how: List[str] = []
        base = [norm(front)]
        for values, n, label in ((mean, batch - n_explore, "hypervolume"), (optimistic, n_explore, "explore")):
            picks = _greedy_hvi(norm(values), np.vstack(base + [norm(mean[chosen])]) if chosen else base[0], n, set(chosen))
            chosen += picks
            how += [label] * len(picks)
        return Xc[chosen].astype(int), how

    @staticmethod
    def _normaliser(problem, F_all: np.ndarray):
        """The run's hypervolume scaling when the problem gives one, else min-max over ``F_all``."""
        if getattr(problem, "normalise", None) is not None and problem.normalise(F_all[:1]) is not None:
            return problem.normalise
        lo, hi = np.nanmin(F_all, axis=0), np.nanmax(F_all, axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        return lambda F: (np.asarray(F, float) - lo) / span

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _has_cheap(problem) -> bool:
        try:
            problem.cheap(np.asarray(problem.xl, dtype=int)[None])
        except NotImplementedError:
            return False
        return True

    def _design(self, problem, rng, n: int, initial) -> np.ndarray:
        """``n`` distinct random vectors never sent before that meet the constraints."""
        X = self.sample(problem, rng, 20 * n, initial)
        X = X[np.array([x not in self.history for x in X], dtype=bool)] if len(X) else X
        if self.has_cheap and problem.n_constr and len(X):
            _, G = problem.cheap(X)
            X = X[np.all(np.asarray(G) <= 0, axis=1)]
        return X[:n]

    def _remember(self, gen: int, X, F, G) -> None:
        G = np.asarray(G).reshape(len(X), -1)
        self.evaluated(G)
        for x, f, g in zip(X, np.asarray(F, float), G):
            if not len(g) or np.all(g <= 0):
                self.memory.append((gen, np.asarray(x), f))

    def _archive(self, problem, gen: int) -> Tuple[np.ndarray, np.ndarray]:
        """What was evaluated before ``gen``: the problem's records, else what this loop saw."""
        got = problem.archive(gen)
        if got is None:
            rows = [(x, f) for g, x, f in self.memory if g < gen]
            got = (np.array([x for x, _ in rows]).reshape(len(rows), problem.n_var),
                   np.array([f for _, f in rows]).reshape(len(rows), problem.n_obj))
        X, F = got
        ok = np.all(np.isfinite(F), axis=1)
        X, F = np.asarray(X, dtype=int)[ok], np.asarray(F, float)[ok]
        # one row order whatever order the trainings finished (and were recorded) in: the fits,
        # the predictor choice and the inner search's start then depend on the values only
        order = np.lexsort(X.T[::-1]) if len(X) else np.arange(0)
        return X[order], F[order]


def _num(v: float) -> Optional[float]:
    return float(v) if np.isfinite(v) else None


def _front_mask(F: np.ndarray) -> np.ndarray:
    from ..analysis.pareto import non_dominated

    return non_dominated(F) if len(F) else np.zeros(0, dtype=bool)


def _greedy_hvi(C: np.ndarray, S: np.ndarray, n: int, taken: set) -> List[int]:
    """Indices of up to ``n`` rows of ``C`` (not in ``taken``), each adding the most hypervolume to
    ``S`` and the rows chosen before it (reference point 1.1 per normalised objective); when no
    row adds any, the rest by non-dominated rank and crowding distance."""
    from ..analysis.pareto import crowding_distance, hypervolume

    ref = np.full(C.shape[1], 1.1)
    free = [i for i in range(len(C)) if i not in taken]
    if not free or n <= 0:
        return []
    # only the best few layers of the candidates can matter: sort them first
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    fronts = NonDominatedSorting().do(C[free], n_stop_if_ranked=max(4 * n, 32))
    pool = [free[i] for f in fronts for i in f]
    out: List[int] = []
    current = np.array(S, float).reshape(-1, C.shape[1])
    hv0 = hypervolume(current, ref)
    while len(out) < n and pool:
        gains = np.array([hypervolume(np.vstack([current, C[i]]), ref) - hv0 for i in pool])
        k = int(np.argmax(gains))
        if gains[k] <= 1e-12:
            break
        i = pool.pop(k)
        out.append(i)
        current = np.vstack([current, C[i]])
        hv0 += gains[k]
    if len(out) < n and pool:  # nothing improves the front under these predictions: spread out
        rest = np.array(pool)
        ranks = np.empty(len(rest), dtype=int)
        for r, f in enumerate(NonDominatedSorting().do(C[rest])):
            ranks[f] = r
        crowd = np.zeros(len(rest))
        for r in np.unique(ranks):
            m = ranks == r
            crowd[m] = crowding_distance(C[rest[m]])
        order = np.lexsort((-crowd, ranks))
        out += [int(rest[i]) for i in order[: n - len(out)]]
    return out
