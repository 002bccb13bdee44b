"""Surrogate-assisted search: learn from what was evaluated, evaluate only what looks best.

The loop of NSGANetV2 / MSuNAS (Lu et al., "NSGANetV2: Evolutionary Multi-Objective Surrogate-
Assisted Neural Architecture Search", ECCV 2020, Algorithm 1; github.com/mikelzc1990/nsganetv2),
with the fit, the acquisition and the local search our own:

1. **Design** (generation 0): ``initial`` distinct random networks that meet the constraints
   (checked on the cheap objectives) are evaluated; with an evaluation budget and no setting,
   12, and then batches that grow with what was evaluated (:func:`batch_size`: 4 at first, 10
   around 100), so most of a small budget is spent by the model.
2. Each further generation (an *iteration*):

   a. read the archive - every network evaluated in earlier generations, from the problem's
      records (``evaluations.jsonl``), never from memory, so a resumed search refits exactly
      what the uninterrupted one fitted; failed trainings are in it at the worst error;
   b. for each expensive objective (error; a table's non-cost columns), fit the predictors on the
      gene encoding (:class:`Encoder`) and the log of the objective (``target``: the many broken
      networks near error 1 then do not dominate the fit), keep the one whose out-of-fold
      predictions rank the better half of the archive best, and calibrate its spread on the same
      out-of-fold errors (:mod:`.predictors`);
   c. run the configured engine (pymoo or DEAP NSGA-II) for ``inner_generations`` on predicted
      expensive objectives and the exact cheap ones and constraints (params, FLOPs, latency,
      table cost columns), starting from the archive's front;
   d. choose ``batch`` networks never sent before (:meth:`SurrogateSearch._choose`): a *local*
      share from the unvisited, feasible one-gene neighbours of the archive front's three most
      accurate members (two-gene ones once those are visited), the rest from everything the
      inner search visited and the front's other neighbours, both by greedy Monte-Carlo expected
      hypervolume improvement over the archive's front (:mod:`.acquisition`) - local picks'
      hypervolume at the accurate end only (:meth:`SurrogateSearch.accurate_reference`: the
      error's reference at the archive's 10th-percentile error), and by the lowest optimistic
      error when none is expected to add any there - part of the local share (``best``) instead
      from every candidate by the expected improvement of the archive's best error
      (:meth:`SurrogateSearch.best_reference`), and a share ``explore`` at random. The hypervolume is measured
      in the archive's own range, with the error's reference point just past the worst error on
      the archive's front (``error_margin``): a cheap network predicted worse earns nothing.
      The local share adapts: it follows how often local picks entered the front, against the
      other picks. Candidates presumed *twins* of evaluated networks - other encodings of one
      network, recognised by their exact costs once the run's evaluations show that equal costs
      mean equal measurements (:mod:`.twins`) - are never chosen, nor two of one cost in a batch;
   e. evaluate the batch; every record carries its prediction (``predicted``,
      ``predicted_std``, ``predictor``, ``selected_by``), and the stage writes
      ``surrogate/iter_NNN.json`` with the predictor's Kendall tau, Spearman rho, RMSE and
      interval coverage (calibration) on the batch alone.

The engine's own rules apply: nothing is sent twice (the run's history), the evaluation budget is
spent in distinct networks, and the loop is deterministic given the objective values (seeded
predictors, seeded inner searches and samples), which is what makes a resume a replay. The loop
sees only what it evaluated: no bound, range or value of an unevaluated network.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import EngineConfig, check_surrogate
from ..core.moo import non_dominated
from ..device import derive_seed
from ..errors import UserError
from .acquisition import Samples, greedy_ehvi
from .engines.base import WRAPPERS, Engine, Problem, variable_types
from .engines.variation import History, is_typed, neighbours
from .predictors import AUTO, kendall_tau, select
from .predictors import build as build_predictor
from .twins import Twins

LOCAL_BOUNDS = (0.1, 0.7)  # the adapted local share stays within these
NEIGHBOURS = 256  # most front neighbours considered per iteration (the accurate end first)
LOCAL_MEMBERS = 3  # local picks come from the neighbours of this many most accurate front members
LOCAL_QUANTILE = 0.1  # local picks' gains count below this quantile of the archive's errors
BEST_COST_REFERENCE = 1e3  # the best picks' reference for the costs (normalised: their range is about 1)


INITIAL = 12  # random networks first, when the search has a budget and engine.surrogate.initial is null


def design_size(cfg: EngineConfig) -> int:
    """Random networks evaluated before the first fit: ``engine.surrogate.initial``; null:
    :data:`INITIAL` when the search has an evaluation budget, else ``engine.pop_size``."""
    sg = cfg.surrogate
    if sg.initial is not None:
        return sg.initial
    return INITIAL if cfg.evaluations is not None else cfg.pop_size


def batch_size(cfg: EngineConfig, evaluated: int) -> int:
    """Networks chosen in an iteration after ``evaluated`` evaluations: ``engine.surrogate.batch``;
    null: ``sqrt(evaluated)`` (4 to 32) when the search has an evaluation budget - small batches
    while little is known, 10 around 100 evaluations, 17 around 300, so that 88 of the first 100
    are chosen by the model - else ``engine.pop_size``. The schedule depends on what was
    evaluated, not on the budget itself, so raising the budget on resume replays the same search."""
    sg = cfg.surrogate
    if sg.batch is not None:
        return sg.batch
    if cfg.evaluations is None:
        return cfg.pop_size
    return int(np.clip(round(math.sqrt(max(evaluated, 1))), 4, 32))


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


def prediction_quality(actual: Sequence[float], predicted: Sequence[float],
                       spread: Optional[Sequence[float]] = None) -> Dict[str, Any]:
    """Kendall's tau, Spearman's rho and the RMSE of predictions against what was measured; with
    ``spread``, the calibration: the share of actual values within one and two spreads of the
    prediction (0.68 and 0.95 for a calibrated normal spread)."""
    from scipy.stats import spearmanr

    a, p = np.asarray(actual, float), np.asarray(predicted, float)
    out: Dict[str, Any] = {"n": int(len(a))}
    if len(a) >= 2:
        tau = kendall_tau(a, p)
        rho = spearmanr(a, p).statistic if np.ptp(a) > 0 and np.ptp(p) > 0 else float("nan")
        out.update(kendall_tau=None if not np.isfinite(tau) else tau,
                   spearman_rho=None if not np.isfinite(rho) else float(rho))
    if len(a):
        out["rmse"] = float(np.sqrt(np.mean((a - p) ** 2)))
    if spread is not None and len(a):
        s = np.asarray(spread, float)
        out["within_1_spread"] = float(np.mean(np.abs(a - p) <= s))
        out["within_2_spreads"] = float(np.mean(np.abs(a - p) <= 2 * s))
    return out


class Model:
    """A fitted predictor of one objective on the ``target`` scale: ``log`` fits log(y) when every
    y is positive (error), else y itself; the spread is scaled by the calibration factor."""

    def __init__(self, name: str, seed: int, y: np.ndarray, target: str, calibration: float = 1.0):
        self.name = name
        self.seed = seed
        self.log = target == "log" and bool(np.all(np.asarray(y) > 0))
        self.calibration = float(calibration)

    def forward(self, y):
        return np.log(y) if self.log else np.asarray(y, float)

    def inverse(self, z):
        return np.exp(z) if self.log else np.asarray(z, float)

    def fit(self, Z: np.ndarray, y: np.ndarray) -> "Model":
        self.predictor = build_predictor(self.name, self.seed).fit(Z, self.forward(y))
        return self

    def predict_scaled(self, Z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Mean and calibrated spread on the fitted scale."""
        m, s = self.predictor.predict(Z)
        return np.asarray(m, float), np.asarray(s, float) * self.calibration

    def predict(self, Z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Mean (the median, for log) and spread in the objective's units (to first order)."""
        return self.units(*self.predict_scaled(Z))

    def units(self, m: np.ndarray, s: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """A mean and spread on the fitted scale in the objective's units (to first order)."""
        y = self.inverse(m)
        return y, (y * s if self.log else s)


class Predicted(Problem):
    """The inner search's problem: predicted expensive objectives, exact cheap ones and constraints;
    networks already evaluated show what they measured, and so do their presumed ``twins``
    (:mod:`.twins`), which join ``known``. Keeps every point it was asked about."""

    def __init__(self, outer: Problem, models: Dict[int, Model], encoder: Encoder, known: Dict[tuple, np.ndarray],
                 has_cheap: bool, twins: Optional[Twins] = None):
        self.outer = outer
        self.twins = twins
        self.models = models
        self.encoder = encoder
        self.known = known
        self.has_cheap = has_cheap
        self.n_var, self.n_obj, self.n_constr = outer.n_var, outer.n_obj, outer.n_constr
        self.xl, self.xu, self.integer = outer.xl, outer.xu, True
        self.vtypes = variable_types(outer)
        # key -> (x, F, spread, G, mean and spread on the fitted scale)
        self.visited: Dict[tuple, Tuple[np.ndarray, ...]] = {}

    def predict(self, X: np.ndarray):
        """``(F, spread, G, M, S)``: cheap objectives exact, expensive ones predicted (spread 0
        elsewhere); ``M``, ``S``: mean and spread on each model's fitted scale (F and 0 for cheap)."""
        if self.has_cheap:
            F, G = self.outer.cheap(X)
        else:
            F, G = np.full((len(X), self.n_obj), np.nan), np.zeros((len(X), 0))
        F = np.asarray(F, float)
        S = np.zeros_like(F)
        M, SM = F.copy(), np.zeros_like(F)
        Z = self.encoder(X)
        for j, model in self.models.items():
            M[:, j], SM[:, j] = model.predict_scaled(Z)
            F[:, j], S[:, j] = model.units(M[:, j], SM[:, j])
        return F, S, np.asarray(G, float).reshape(len(X), self.n_constr), M, SM

    def evaluate(self, X, notes=None):
        X = np.asarray(X, dtype=int).reshape(len(X), self.n_var)
        F, S, G, M, SM = self.predict(X)
        for n, x in enumerate(X):
            k = History.key(x)
            twin = self.twins.of(F[n]) if self.twins is not None and k not in self.known else None
            if twin is not None:
                self.known[k] = twin  # never sent: the loop already knows what it would measure
            if k in self.known:
                F[n], S[n], SM[n] = self.known[k], 0.0, 0.0
                M[n] = [self.models[j].forward(F[n, j]) if j in self.models else F[n, j] for j in range(self.n_obj)]
            self.visited.setdefault(k, (x.copy(), F[n].copy(), S[n].copy(), G[n].copy(), M[n].copy(), SM[n].copy()))
        return F, G


@WRAPPERS.register("surrogate")
class SurrogateSearch(Engine):
    """The surrogate-assisted loop around an engine (module docstring): an engine itself, so the
    network stage runs it like any other."""

    name = "surrogate"

    def __init__(self, cfg: EngineConfig, inner: Engine):
        self.inner_cls = type(inner)
        self.algorithms = inner.algorithms
        super().__init__(cfg)
        self.name = f"surrogate-{inner.name}"

    # ------------------------------------------------------------------ the loop

    def _minimize(self, problem, evaluate, seed, report, initial):
        vtypes = variable_types(problem)
        if not (problem.integer and is_typed(vtypes)):
            raise UserError("the surrogate loop searches integer genes only; set engine.surrogate.enabled=false")
        sg = self.cfg.surrogate
        check_surrogate(sg)
        rng = np.random.default_rng(seed)
        self.encoder = Encoder(vtypes, problem.xl, problem.xu)
        expensive = list(problem.expensive) if problem.expensive is not None else [True] * problem.n_obj
        self.expensive = [j for j, e in enumerate(expensive) if e]
        self.names = list(getattr(problem, "names", None) or [f"f{j}" for j in range(problem.n_obj)])
        self.has_cheap = self._has_cheap(problem)
        if not self.has_cheap and problem.n_constr:
            raise UserError("the surrogate loop needs constraints it can check without evaluating")
        self.memory: List[Tuple[int, np.ndarray, np.ndarray]] = []  # (generation, x, f) for problems without records
        self.picks: Dict[tuple, str] = {}  # the last batch: key -> how it was chosen
        self.paid = {"local": [0, 0], "other": [0, 0]}  # picks that entered the front, picks made
        self.twins: Optional[Twins] = None

        if not self.running(0, problem):
            return
        X = self._design(problem, rng, design_size(self.cfg), initial)
        X = X[: self.affordable(problem, X)]
        if not len(X):
            return
        F, G = evaluate(X, [{"selected_by": "design"}] * len(X))
        self._remember(0, X, F, G)
        report(0, X, F, G, {"surrogate": {"phase": "design", "size": int(len(X))}})

        gen = 1
        while self.running(gen, problem):
            Xa, Fa = self._archive(problem, gen)
            batch = batch_size(self.cfg, len(Xa))
            if len(Xa) < 4:  # nothing to learn from yet: another random batch
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
        models, chosen, taus, calib = {}, {}, {}, {}
        for j in self.expensive:
            probe = Model(names[0], seed, Fa[:, j], sg.target)
            name, tau, scale = select(names, Z, probe.forward(Fa[:, j]), sg.folds, seed)
            models[j] = Model(name, seed, Fa[:, j], sg.target, scale).fit(Z, Fa[:, j])
            o = self.names[j]
            chosen[o], taus[o], calib[o] = name, {k: _num(v) for k, v in tau.items()}, scale
        known = {History.key(x): f for x, f in zip(Xa, Fa)}
        cheap = [j for j in range(problem.n_obj) if j not in self.expensive]
        self.twins = Twins(Fa, cheap if self.has_cheap else [], self.expensive)
        inner = Predicted(problem, models, self.encoder, known, self.has_cheap, self.twins)
        cfg = dataclasses.replace(self.cfg, pop_size=sg.inner_pop, generations=sg.inner_generations, evaluations=None,
                                  surrogate=dataclasses.replace(sg, enabled=False))
        nd = _front_mask(Fa)
        self._score_last_batch(Xa, nd)
        self.inner_cls(cfg).minimize(inner, seed, lambda *a: None, initial=Xa[nd][: sg.inner_pop])
        unseen = self._unseen(known)
        pool = [k for k, v in inner.visited.items() if unseen(k) and (not len(v[3]) or np.all(v[3] <= 0))]
        near, n_top = self._neighbourhood(problem, inner, Xa, Fa, nd, unseen)
        share = self.local_share()
        X, picked_by = self._choose(problem, inner, Fa, nd, pool, near, n_top, batch, share, seed)
        if len(X) < batch:  # nothing else is worth a sample: fill up at random
            taken = {History.key(x) for x in X}
            extra = [x for x in self._design(problem, np.random.default_rng(seed), batch, None)
                     if History.key(x) not in taken and unseen(History.key(x))]
            if extra:
                inner.evaluate(np.array(extra))  # their predictions, for the records; presumed twins join known
                extra = [x for x in extra if unseen(History.key(x))][: batch - len(X)]
            if extra:
                X = np.vstack([X, np.array(extra)]).astype(int)
                picked_by = picked_by + ["random"] * len(extra)
        self.picks = {History.key(x): how for x, how in zip(X, picked_by)}
        notes = []
        for x, how in zip(X, picked_by):
            _, f, s = inner.visited[History.key(x)][:3]
            notes.append({
                "predicted": {self.names[j]: float(f[j]) for j in self.expensive},
                "predicted_std": {self.names[j]: float(s[j]) for j in self.expensive},
                "predictor": dict(chosen),
                "selected_by": how,
            })
        info = {"phase": "surrogate", "predictor": chosen, "cv_kendall_tau": taus, "spread_calibration": calib,
                "target": {self.names[j]: "log" if m.log else "raw" for j, m in models.items()},
                "train_size": int(len(Xa)), "candidates": len(pool), "neighbours": len(near),
                "local_share": round(share, 4), "twins": self.twins.info(), "size": int(len(X)),
                "selected_by": {h: picked_by.count(h) for h in sorted(set(picked_by))}}
        return X, notes, info

    def _unseen(self, known):
        return lambda k: k not in known and k not in self.history

    # ------------------------------------------------------------------ local search

    def _neighbourhood(self, problem, inner: Predicted, Xa, Fa, nd, unseen) -> Tuple[List[tuple], int]:
        """Unvisited, feasible neighbours of the archive's front - one-gene edits of its members, the
        most accurate member first, then two-gene edits; at most :data:`NEIGHBOURS` - and how many
        of the first are neighbours of its :data:`LOCAL_MEMBERS` most accurate members (the
        local picks' pool: two-gene edits of those count only where their one-gene edits are all
        visited)."""
        err = self.expensive[0] if self.expensive else 0
        members = Xa[nd][np.argsort(Fa[nd][:, err], kind="stable")]
        twins = self.twins if self.twins is not None and self.twins.presumed else None
        out: List[tuple] = []
        seen = set()
        top = 0
        for edits in (1, 2):
            for rank, x in enumerate(members):
                Y = neighbours(x, problem.xl, problem.xu, edits)
                keys = [History.key(y) for y in Y]
                keep = [i for i, k in enumerate(keys) if unseen(k) and k not in seen]
                Y = Y[keep]
                if self.has_cheap and (problem.n_constr or twins) and len(Y):
                    C, G = problem.cheap(Y)
                    ok = np.all(np.asarray(G).reshape(len(Y), -1) <= 0, axis=1)
                    if twins:  # another encoding of an evaluated network
                        ok &= np.array([twins.of(c) is None for c in np.asarray(C, float)], dtype=bool)
                    Y = Y[ok]
                for y in Y[: NEIGHBOURS - len(out)]:
                    seen.add(History.key(y))
                    out.append(History.key(y))
                if rank + 1 == min(LOCAL_MEMBERS, len(members)):
                    top = len(out)
                if len(out) >= NEIGHBOURS:
                    break
            if top == 0 and edits == 1:
                out, seen = [], set()  # every one-gene edit of the best members was visited: two-gene edits
                continue
            break
        if out:
            inner.evaluate(np.array(out, dtype=int))  # their predictions
        return out, top

    def local_share(self) -> float:
        """The share of a batch spent on the front's neighbours: ``engine.surrogate.local`` scaled by
        how often local picks entered the front against the other picks (Laplace-smoothed rates),
        within :data:`LOCAL_BOUNDS`."""
        base = self.cfg.surrogate.local
        if base <= 0:
            return 0.0
        (hl, nl), (ho, no) = self.paid["local"], self.paid["other"]
        rl, ro = (hl + 1) / (nl + 2), (ho + 1) / (no + 2)
        return float(np.clip(2 * base * rl / (rl + ro), *LOCAL_BOUNDS))

    def _score_last_batch(self, Xa, nd) -> None:
        """Count which picks of the last batch are on the archive's front now."""
        on_front = {History.key(x) for x in Xa[nd]}
        for k, how in self.picks.items():
            side = self.paid["local" if how == "local" else "other"]
            side[0] += k in on_front
            side[1] += 1
        self.picks = {}

    # ------------------------------------------------------------------ the batch

    def _choose(self, problem, inner: Predicted, Fa, nd, pool, near, n_top: int, batch: int, share: float,
                seed: int) -> Tuple[np.ndarray, List[str]]:
        """The batch: ``share`` of it from the first ``n_top`` of the front's neighbours ``near``
        (those of its most accurate members), the rest from ``pool``
        and the neighbours left, both by greedy expected hypervolume improvement (:mod:`.acquisition`);
        ``explore`` of it at random from the pool; ``best`` of it, out of the local share, from
        every candidate by the expected improvement of the best error (``selected_by``: local,
        best, ehvi, explore)."""
        sg = self.cfg.surrogate
        keys = list(dict.fromkeys(list(near) + list(pool)))
        if self.twins is not None and self.twins.presumed:
            # candidates of one cost are presumed one network: keep the first (neighbours of the
            # most accurate members come first, so the local pool keeps its order)
            firsts: Dict[tuple, tuple] = {}
            for k in keys:
                firsts.setdefault(self.twins.signature(inner.visited[k][1]), k)
            kept = set(firsts.values())
            n_top = sum(k in kept for k in keys[:n_top])
            keys = [k for k in keys if k in kept]
        if not keys:
            return np.zeros((0, problem.n_var), dtype=int), []
        rng = np.random.default_rng(seed)
        n_explore = int(round(sg.explore * batch))
        n_local = min(int(round(share * (batch - n_explore))), n_top)
        # the best picks are taken out of the local share
        n_best = min(int(round(sg.best * (batch - n_explore))), n_local) if self.expensive else 0
        n_local -= n_best
        V = [inner.visited[k] for k in keys]
        M, SM = np.array([v[4] for v in V]), np.array([v[5] for v in V])
        scale, ref = self.scaling(problem, Fa, sg.error_margin)
        inverse = [(inner.models[j].inverse if j in inner.models else (lambda z: z)) for j in range(problem.n_obj)]
        samples = Samples(M, SM, inverse, scale, rng, sg.samples)
        phases = [(range(n_top), n_local, self.accurate_reference(scale(Fa), ref))]
        if n_best:
            phases.append((range(len(keys)), n_best, self.best_reference(scale(Fa))))
        phases.append((range(len(keys)), batch - n_explore))
        got = greedy_ehvi(samples, scale(Fa[nd]), ref, phases)[: batch - n_explore]
        picked = [k for k, phase, _ in got if phase == 0]
        if len(picked) < n_local:
            # no neighbour of the most accurate members is expected to add hypervolume: the local share
            # still goes to them, the lowest optimistic error (mean - spread) first
            err = self.expensive[0] if self.expensive else 0
            taken = {k for k, _, _ in got}
            order = sorted((k for k in range(n_top) if k not in taken), key=lambda k: (M[k, err] - SM[k, err], k))
            picked += order[: n_local - len(picked)]
        how = ["local"] * len(picked)
        last = len(phases) - 1
        for label, wanted in (("best", lambda p: 0 < p < last), ("ehvi", lambda p: p == last)):
            for k, phase, _ in got:
                if wanted(phase) and k not in picked and len(picked) < batch - n_explore:
                    picked.append(k)
                    how.append(label)
        rest = [i for i in range(len(keys)) if i not in picked]
        if n_explore and rest:
            extra = [int(i) for i in rng.choice(rest, size=min(n_explore, len(rest)), replace=False)]
            picked += extra
            how += ["explore"] * len(extra)
        X = np.array([V[i][0] for i in picked], dtype=int).reshape(len(picked), problem.n_var)
        return X, how

    def accurate_reference(self, N: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """The local picks' reference point: ``ref`` with the error's at the :data:`LOCAL_QUANTILE`
        quantile of the archive's errors (``N``: the archive, normalised), so that a local pick
        earns only what it adds among the archive's most accurate networks, not a cheaper corner
        of the front. (Against the full reference, 5 seeds: on NAS-Bench-Macro the accurate-end
        gap at 100 went from 38.8 % to 17.5 % and the best-error regret from 0.26 to 0.12 points;
        on TransNAS class_scene from 53.9 % to 38.6 %; at the 25th percentile, 19.0 % and 38.7 %.)"""
        out = np.array(ref, float)
        if self.expensive and len(N):
            err = self.expensive[0]
            out[err] = min(float(np.quantile(N[:, err], LOCAL_QUANTILE)), out[err])
        return out

    def best_reference(self, N: np.ndarray) -> np.ndarray:
        """The best picks' reference point: the error's at the archive's best error (``N``: the
        archive, normalised), the others' far out (:data:`BEST_COST_REFERENCE`), so that a pick's
        expected gain is its expected improvement of the best error, the costs only breaking
        ties."""
        out = np.full(N.shape[1], BEST_COST_REFERENCE)
        err = self.expensive[0]
        out[err] = float(N[:, err].min())
        return out

    def scaling(self, problem, Fa: np.ndarray, margin: float):
        """``(scale, ref)``: objectives normalised to the archive's own range (positive cheap ones
        on log10; the error stays linear - on log10 it drew the batches away from the cheap end,
        5.9 % against 0.43 % HV gap at 100 on the digits table, 3 seeds) and the hypervolume
        reference point: 1.1 per objective, but the expensive ones' at the worst value on the
        archive's front plus ``margin`` of the archive's range - a network predicted worse than
        anything the front holds earns nothing, however cheap. (At the archive's 75th percentile
        instead, the front's cheap end earned nothing either: 2.96 % against 0.08 % HV gap at 300
        on NAS-Bench-Macro, 3 seeds.)"""
        Fa = np.asarray(Fa, float)
        cheap = [j for j in range(problem.n_obj) if j not in self.expensive]
        log = np.array([j in cheap and bool(np.all(Fa[:, j] > 0)) for j in range(problem.n_obj)])
        T = np.where(log, np.log10(np.where(log, np.maximum(Fa, 1e-300), 1.0)), Fa)
        lo, hi = T.min(0), T.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)

        def scale(F):
            F = np.asarray(F, float)
            G = np.where(log, np.log10(np.where(log, np.maximum(F, 1e-300), 1.0)), F)
            return (G - lo) / span

        ref = np.full(problem.n_obj, 1.1)
        N = scale(Fa)
        front = N[_front_mask(Fa)] if len(Fa) else N
        for j in self.expensive:
            ref[j] = min(float(front[:, j].max()) + margin, 1.1)
        return scale, ref

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
    return non_dominated(F) if len(F) else np.zeros(0, dtype=bool)
