"""The network stage: NSGA-II over genomes (or a table's genes), cheap objectives first, training only what is new.

:class:`NetworkProblem` is the problem the engine sees. For a batch of gene vectors it

1. turns each into a :class:`~hybridnas.network.points.Point` with its cheap objectives (params,
   MACs, FLOPs: analytic and exact; latency from the run's latency table, only when asked; a
   tabular space's cost columns);
2. computes constraint violations (``max_params``, ``max_flops``, ``max_latency_ms``, and for an
   incomplete table "no row"), normalised by the limit; infeasible candidates are never
   evaluated - constraint-domination ranks them;
3. sends feasible candidates that are not in the cache (keyed by arch id and budget) to the
   evaluator, appending a record to ``evaluations.jsonl`` as each finishes - rung by rung when
   multi-fidelity is on (:mod:`hybridnas.network.fidelity`);
4. returns objectives ``F`` (minimised) and constraints ``G``.

**Budgets.** A record's ``epochs`` is its budget (``null`` for a table lookup). With multi-
fidelity, the engine sees each candidate's objectives at the highest budget it reached in this
generation (or earlier): a candidate stopped at a low rung shows the error of a network half-way
through its schedule, higher than it would reach - the pressure successive halving intends, as
it was dominated at that rung. The front, the hypervolume and every reader of the run
(:class:`~hybridnas.results.RunResults`) use the top budget only, so every accuracy they compare
comes from the same training.

:class:`NetworkStage` runs an engine over the problem and keeps the run store current after
every generation: the population (``generations/gen_NNN.json``), the front of everything
evaluated so far (``front.csv``/``front.json``) and the hypervolume history. Resume is a replay:
the engine is deterministic for its seed given objective values, promotions depend only on
records of earlier rungs and generations, and every finished evaluation is in the cache, so a
restarted search retraces its steps without training anything twice.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..analysis.pareto import hypervolume, non_dominated, normalise
from ..block.library import CONVENTION
from ..device import derive_seed
from ..evaluate.base import Evaluator
from ..evaluate.candidate import Candidate, make_candidate
from ..progress import Progress
from . import fidelity
from .engines import build_engine
from .points import Point
from .problem import Problem

EVALS = "evaluations.jsonl"
LOG_OBJECTIVES = ("params", "flops", "macs", "latency")


def random_candidates(cfg, blocks, data, n: int, seed: int) -> List[Candidate]:
    """``n`` distinct random networks of the space over ``blocks`` (genotypes or library entries;
    constraints ignored): a population for benchmarks and tests of the evaluators, built exactly
    as the search builds candidates."""
    from .points import NetworkPoints

    points = NetworkPoints(cfg, blocks, data)
    rng = np.random.default_rng(seed)
    out: Dict[str, Candidate] = {}
    for _ in range(100 * n):
        if len(out) == n:
            break
        [p] = points.points(points.spec.sample(rng, 1))
        out.setdefault(p.arch_id, make_candidate(cfg.seed, p.arch_id, p.arch, cfg.evaluation.epochs))
    return list(out.values())


def objective_value(record: Dict[str, Any], name: str, maximize: Sequence[str] = ()) -> float:
    """One objective of a record, as minimised: error = 1 - val_acc (1 for a failed candidate);
    columns listed in ``maximize`` (tabular spaces) are negated."""
    if name == "error":
        if record.get("status") != "ok":
            return 1.0
        return 1.0 - float(record["val_acc"]) if "val_acc" in record else float(record["error"])
    v = float(record[name])
    return -v if name in maximize else v


def maximized(cfg) -> Tuple[str, ...]:
    return tuple(cfg.table.maximize) if cfg.tabular and cfg.table is not None else ()


def top_budget(cfg) -> Optional[int]:
    """The budget the front and every reader compare (None: a table lookup)."""
    return None if cfg.tabular else cfg.evaluation.epochs


def cheap_objectives(points) -> Tuple[str, ...]:
    """Objectives a space knows without evaluating: analytic costs (and latency from its table,
    when measured) of a network space, the cost columns of a table."""
    if getattr(points, "table", None) is not None:
        return tuple(points.cost_columns)
    return ("params", "macs", "flops") + (("latency",) if getattr(points, "latency", None) is not None else ())


class NetworkProblem(Problem):
    """The network stage as a :class:`~hybridnas.network.problem.Problem` (see the module docstring).

    Besides ``evaluate`` it keeps the budget (``engine.evaluations``: distinct networks that
    reached the full budget, counted over what the engine sent in this run - a replay after a
    resume counts its cache hits, so the budget spans sessions), gives the cheap objectives and
    constraints without evaluating (``cheap``), and the archive of evaluated networks read from
    ``evaluations.jsonl`` (``archive``) for the surrogate loop.
    """

    callbacks = None  # the search's hybridnas.callbacks.Callbacks (set by NetworkStage): told of each record

    def __init__(self, cfg, points, evaluator: Evaluator, store, progress: Progress):
        self.cfg = cfg
        self.points = points
        self.evaluator = evaluator
        self.store = store
        self.progress = progress
        self.objectives = tuple(cfg.objectives)
        self.maximize = maximized(cfg)
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
        known = cheap_objectives(points)
        self.expensive = [o not in known for o in self.objectives]
        self.limit = cfg.engine.evaluations  # budget of distinct full-budget evaluations (None: none)
        self.sent: Dict[str, None] = {}  # feasible arch ids the engine sent in this run, in order
        self.proposed = 0  # gene vectors the engine sent (feasible or not)
        self.notes: Dict[str, Dict[str, Any]] = {}  # arch id -> what the engine said about it (predictions)
        self.codes: Dict[str, List[int]] = {}  # arch id -> its gene vector
        self.gen_proposed = 0  # self.proposed when the current generation began
        self.reference: Optional[Dict[str, Any]] = None  # hv_reference.json, set by the stage
        self.budgets = (None,) if cfg.tabular else fidelity.budgets(cfg.evaluation)
        self.budget = self.budgets[-1]
        self.multi_fidelity = len(self.budgets) > 1
        self.cache: Dict[Tuple[str, Optional[int]], Dict[str, Any]] = {}
        self._worst_memo: Dict[str, Tuple[int, float]] = {}  # objective -> (cache size, worst value)
        store.repair(EVALS)
        for r in store.records(EVALS):
            self.cache[(r["arch_id"], r.get("epochs"))] = r
        self.generation = 0
        self.new_evals = 0
        self.cached_hits = 0
        self.infeasible = 0
        self.reached: Dict[str, Optional[int]] = {}  # arch id -> budget of the result the engine last saw
        self.gen_trained: Dict[str, int] = {}  # this generation: new results per budget
        self.gen_epochs = 0  # this generation: epochs trained

    def worst(self, name: str) -> float:
        """The value given to a candidate that has none for objective ``name`` (a network with no
        table row - infeasible, so ranked by its violation - or a failed evaluation): 1 for the
        error, else the worst value among the networks evaluated so far (1 before any). Read from
        evaluations only: the search never looks at a table row it has not evaluated."""
        if name == "error":
            return 1.0
        memo = self._worst_memo
        if memo.get(name, (None,))[0] != len(self.cache):
            seen = [objective_value(r, name, self.maximize) for r in self.cache.values()
                    if r.get("status") == "ok" and name in r]
            memo[name] = (len(self.cache), max(seen) if seen else 1.0)
        return memo[name][1]

    def row(self, record: Dict[str, Any]) -> List[float]:
        """A record's objective vector (minimised)."""
        return [objective_value(record, o, self.maximize) for o in self.objectives]

    def violations(self, point: Point) -> List[float]:
        if not point.found:
            return [1.0] * self.n_constr
        g = [point.cheap[k] / limit - 1.0 for k, limit in self.limits]
        return g + ([0.0] if self.points.sparse else [])

    # ------------------------------------------------------------------ budget

    def spent(self) -> int:
        """Distinct networks the engine sent in this run that have a full-budget result."""
        return sum((a, self.budget) in self.cache for a in self.sent)

    def budget_prefix(self, X: np.ndarray) -> int:
        """Leading rows of ``X`` the budget pays for. A new feasible network costs one unit
        (assumed to reach the full budget: successive halving may stop it earlier, never later);
        infeasible rows and networks already sent are free."""
        if self.limit is None:
            return len(X)
        left = self.limit - self.spent()
        new = set()
        for n, p in enumerate(self.points.points(X)):
            if p.arch_id in self.sent or p.arch_id in new or any(v > 0 for v in self.violations(p)):
                continue
            if len(new) >= left:
                return n
            new.add(p.arch_id)
        return len(X)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent() >= self.limit

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
        for r in self.store.records(EVALS):
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
        self.proposed += len(X)
        cands: Dict[str, Point] = {}
        for n, (p, ok) in enumerate(zip(pts, feasible)):
            if not ok:
                self.infeasible += 1
            elif p.arch_id not in cands:
                cands[p.arch_id] = p
                self.sent.setdefault(p.arch_id)
                self.codes[p.arch_id] = [int(v) for v in X[n]]
                if notes is not None and notes[n]:
                    self.notes[p.arch_id] = dict(notes[n])
        self.cached_hits += sum((a, self.budgets[0]) in self.cache for a in cands)
        results = self._halving(cands)
        F = np.zeros((len(X), self.n_obj))
        for n, (p, ok) in enumerate(zip(pts, feasible)):
            rec = results.get(p.arch_id) if ok else None
            for j, name in enumerate(self.objectives):
                if name in p.cheap:
                    F[n, j] = -p.cheap[name] if name in self.maximize else p.cheap[name]
                elif rec is not None and (name == "error" or name in rec):
                    F[n, j] = objective_value(rec, name, self.maximize)
                else:
                    F[n, j] = self.worst(name)
            if rec is not None:
                self.reached[p.arch_id] = rec.get("epochs")
        return F, G

    # ------------------------------------------------------------------ successive halving

    def _halving(self, cands: Dict[str, Point]) -> Dict[str, Dict[str, Any]]:
        """Evaluate ``cands`` rung by rung; the record of the highest budget each one reached."""
        g = self.generation
        results: Dict[str, Dict[str, Any]] = {}
        alive = list(cands)
        for k, b in enumerate(self.budgets):
            todo = [a for a in alive if (a, b) not in self.cache]
            if todo:
                self._evaluate_rung([cands[a] for a in todo], k)
            for a in alive:
                if (a, b) in self.cache:
                    results[a] = self.cache[(a, b)]
            if k + 1 == len(self.budgets):
                break
            nxt = self.budgets[k + 1]
            archive = [r for (_, bb), r in self.cache.items()
                       if bb == b and r.get("status") == "ok" and r.get("generation", 0) <= g]
            ok = [a for a in alive if self.cache.get((a, b), {}).get("status") == "ok"]
            up = set(fidelity.promote(ok, archive, self.row, self.cfg.evaluation.fidelity.promote))
            # a result from an earlier generation at the next budget is free: use it
            known = {a for a in alive if self.cache.get((a, nxt), {}).get("generation", g) < g}
            for a in alive:
                if a not in up and a not in known:
                    self._drop_checkpoint(a, b)
            alive = [a for a in alive if a in up or a in known]
        return results

    def _evaluate_rung(self, points: List[Point], k: int) -> None:
        b = self.budgets[k]
        top = k + 1 == len(self.budgets)
        cands = []
        for p in points:
            start = None
            if k > 0 and self.store.exists(fidelity.checkpoint_path(p.arch_id, self.budgets[k - 1])):
                start = self.store.load_tensors(fidelity.checkpoint_path(p.arch_id, self.budgets[k - 1]))
            cands.append(make_candidate(self.cfg.seed, p.arch_id, p.arch, b,
                                        schedule=self.budget if self.multi_fidelity else None,
                                        start=start, checkpoint=self.multi_fidelity and not top))
        by_id = {p.arch_id: p for p in points}
        if self.cfg.tabular:  # a lookup takes microseconds: no progress bar
            self.evaluator.evaluate_batch(cands, lambda c, r: self._record(by_id[c.arch_id], r, k))
            return
        what = f"{b} epochs" if self.multi_fidelity else "training"
        bar = self.progress.bar(f"  gen {self.generation + 1} {what}", len(cands))
        done = [0]

        def on_result(cand: Candidate, result: Dict[str, Any]) -> None:
            self._record(by_id[cand.arch_id], result, k)
            done[0] += 1
            acc = result.get("val_acc")
            bar.update(done[0], f"{by_id[cand.arch_id].genome} " + (f"acc {acc:.3f}" if acc is not None else result.get("reason", "")))

        with bar:
            self.evaluator.evaluate_batch(cands, on_result)

    def _record(self, point: Point, result: Dict[str, Any], k: int) -> None:
        b = self.budgets[k]
        top = k + 1 == len(self.budgets)
        state = result.pop("state", None)
        ckpt = result.pop("checkpoint", None)
        record = {
            "arch_id": point.arch_id,
            "genome": point.genome,
            "x": self.codes.get(point.arch_id),  # the gene vector: what the surrogate learns from
            **point.cheap,
            **{key: v for key, v in result.items() if key != "arch_id"},
            "generation": self.generation,
            **self.notes.get(point.arch_id, {}),
        }
        if self.multi_fidelity:
            record["rung"] = k
        ok = result.get("status") == "ok"
        # files first: a record implies the files it names exist
        if ckpt is not None and ok:
            self.store.save_tensors(fidelity.checkpoint_path(point.arch_id, b), ckpt)
        if state is not None and top and ok and self.cfg.evaluation.keep_weights != "none":
            rel = f"weights/{point.arch_id}.pt"
            self.store.save_tensors(rel, state)
            record["weights"] = rel
        self.store.append(EVALS, record)
        self.cache[(point.arch_id, record.get("epochs"))] = record
        if self.callbacks:
            self.callbacks.evaluation(record)
        if k > 0:
            self._drop_checkpoint(point.arch_id, self.budgets[k - 1])  # the longer budget supersedes it
        self.new_evals += 1
        key = "lookup" if b is None else str(b)
        self.gen_trained[key] = self.gen_trained.get(key, 0) + 1
        if b is not None:
            self.gen_epochs += int(result.get("trained_epochs", b))

    def _drop_checkpoint(self, arch_id: str, budget: Optional[int]) -> None:
        if budget is None or not self.multi_fidelity:
            return
        try:
            self.store.path(fidelity.checkpoint_path(arch_id, budget)).unlink()
        except FileNotFoundError:
            pass


class NetworkStage:
    def __init__(self, cfg, points, evaluator: Evaluator, store, progress: Optional[Progress] = None, callbacks=None):
        self.cfg = cfg
        self.store = store
        self.progress = progress or Progress(quiet=True)
        self.problem = NetworkProblem(cfg, points, evaluator, store, self.progress)
        self.callbacks = self.problem.callbacks = callbacks  # hybridnas.callbacks.Callbacks, or None
        self.reference = self._hv_reference()
        self.problem.reference = self.reference
        self.t0 = time.perf_counter()
        self.duplicates = 0  # offspring the engine dropped as repeats of earlier proposals

    def _hv_reference(self) -> Dict[str, Any]:
        """Fixed bounds for normalising objectives, so hypervolumes compare across generations.

        Network spaces: error in [0, 1]; params, MACs and FLOPs from the exact smallest network
        of the block library (:func:`~hybridnas.network.costs.smallest_cost`) to the largest of
        2,000 random genomes (analytic, milliseconds) times 1.1, on a log scale; latency from the
        first 64 of them (each new block is timed), halved and doubled. Tabular spaces: the exact
        range of each objective over the table. Written once and reused on resume.
        """
        if self.store.exists("hv_reference.json"):
            return self.store.read_json("hv_reference.json")
        p = self.problem
        table = getattr(p.points, "table", None)
        if table is not None:
            ref = table_reference(table, p.objectives, p.maximize, costs_only=True)
            self.store.write_json("hv_reference.json", ref)
            return ref
        rng = np.random.default_rng(derive_seed(self.cfg.seed, "hv-reference"))
        X = p.points.spec.sample(rng, 2000)
        costs = [p.points.analytic(p.points.arch(x)) for x in X]
        least = self._smallest()
        lower, upper, log = [], [], []
        for name in p.objectives:
            if name == "error":
                lower.append(0.0)
                upper.append(1.0)
                log.append(False)
                continue
            if name == "latency":  # timing is not free: a smaller sample, wider margins
                v = np.array([pt.cheap["latency"] for pt in p.points.points(X[:64])], dtype=float)
                lower.append(float(v.min()) / 2)
                upper.append(float(v.max()) * 2)
            else:
                v = np.array([c[name] for c in costs], dtype=float)
                lower.append(float(least[name]) if least is not None else float(v.min()))
                upper.append(float(v.max()) * 1.1)
            log.append(True)
        ref = {
            "objectives": list(p.objectives),
            "maximize": list(p.maximize),
            "lower": lower,
            "upper": upper,
            "log_scale": log,
            "ref_point": [1.1] * len(lower),
            "note": "objectives normalised to [0, 1] between lower and upper (log10 for costs); HV against ref_point; "
                    + ("cost lower bounds: the smallest network of the library (exact)" if least is not None else
                       "cost lower bounds: the smallest of 2,000 random genomes (too many layouts to enumerate)"),
        }
        self.store.write_json("hv_reference.json", ref)
        return ref

    def _smallest(self) -> Optional[Dict[str, float]]:
        """The fewest params, MACs and FLOPs any network of the library can have (None: too many layouts)."""
        from .costs import smallest_cost

        pts = self.problem.points
        d = pts.data
        least = smallest_cost(self.cfg.network, self.cfg.cell.nodes, d.in_chans, d.num_classes, tuple(d.image_size),
                              pts.blocks)
        return None if least is None else {"params": least.params, "macs": least.macs, "flops": least.flops}

    def run(self, initial: Optional[np.ndarray] = None) -> Dict[str, Any]:
        """Run the engine to the end; ``initial``: gene vectors that start generation 0 (``--init-from``)."""
        cfg = self.cfg
        engine = build_engine(cfg.engine)
        p = self.problem
        by_budget = cfg.engine.generations is None  # progress in evaluations when only the budget stops it
        total = cfg.engine.evaluations if by_budget else cfg.engine.generations
        bar = self.progress.bar("network search", total)
        p.generation = 0
        self._announce(engine)

        def on_generation(gen: int, X, F, G, info: Dict[str, Any]) -> None:
            self.duplicates += int(info.get("duplicates_rejected", 0))
            replayed = self.store.exists(f"generations/gen_{gen:03d}.json")  # made by an earlier session
            summary = self._write_generation(gen, X, F, G, info)
            if info.get("surrogate") is not None:
                self._write_surrogate(gen, info["surrogate"])
            front = self.front()
            hv = self.hv(front)
            self._write_front(front)
            self._prune_weights(front)
            if self.callbacks and not replayed:
                self.callbacks.generation(summary)
            p.generation = gen + 1
            p.gen_trained = {}
            p.gen_epochs = 0
            p.gen_proposed = p.proposed
            bar.update(
                p.spent() if by_budget else gen + 1,
                f"| evaluated {len(self.ok_records())} (new {p.new_evals}) | front {len(front)} | HV {hv:.4f}",
            )

        with bar:
            engine.minimize(p, derive_seed(cfg.seed, "engine"), on_generation, initial=initial)
        front = self.front()
        full = {a for (a, b) in p.cache if b == p.budget}
        return {
            "front": front,
            "failed": self.failed_records(),
            "evaluated": len(self.ok_records()),
            "stopped_early": len({a for (a, _) in p.cache} - full),  # multi-fidelity
            "new_evaluations": p.new_evals,
            "search": self.counts(),
            "seconds": time.perf_counter() - self.t0,
        }

    def counts(self) -> Dict[str, Any]:
        """What the engine did in this run (a resume replays earlier sessions, so these span them)."""
        p = self.problem
        return {
            "proposed": p.proposed,  # gene vectors sent for evaluation (never one twice)
            "duplicates_rejected": self.duplicates,  # offspring dropped as repeats of earlier proposals
            "infeasible": p.infeasible,  # sent, but violating a constraint: not evaluated
            "distinct_evaluations": p.spent(),  # distinct networks with a full-budget result
            "budget": p.limit,  # engine.evaluations
            "surrogate": bool(getattr(self.cfg.engine.surrogate, "enabled", False)),
        }

    def _announce(self, engine) -> None:
        """One line saying how the network stage searches (and how to switch the surrogate)."""
        e = self.cfg.engine
        stop = ", ".join(x for x in ((f"{e.generations} generations" if e.generations is not None else ""),
                                     (f"{e.evaluations} distinct evaluations" if e.evaluations is not None else "")) if x)
        if e.surrogate.enabled:
            s = e.surrogate
            self.progress.info(
                f"network search: surrogate-assisted {e.name} {e.algorithm} (on by default; "
                f"engine.surrogate.enabled=false for plain NSGA-II): {s.initial or e.pop_size} random networks, then "
                f"{s.batch or e.pop_size} per iteration from the predicted front; stops at {stop}")
        else:
            self.progress.info(f"network search: {e.name} {e.algorithm}, population {e.pop_size}; stops at {stop}")

    # ------------------------------------------------------------------ bookkeeping

    def ok_records(self) -> List[Dict[str, Any]]:
        b = self.problem.budget
        return [r for (aid, ep), r in self.problem.cache.items() if ep == b and r.get("status") == "ok"]

    def failed_records(self) -> List[Dict[str, Any]]:
        b = self.problem.budget
        return [r for (aid, ep), r in self.problem.cache.items() if ep == b and r.get("status") != "ok"]

    def front(self) -> List[Dict[str, Any]]:
        return pareto_front(self.ok_records(), self.problem.objectives, self.problem.maximize)

    def hv(self, front: List[Dict[str, Any]]) -> float:
        return front_hypervolume(front, self.reference)

    def _write_surrogate(self, gen: int, info: Dict[str, Any]) -> None:
        """``surrogate/iter_NNN.json``: the predictor chosen, its cross-validated rank correlation,
        what it predicted for the batch, and how well that ranked the batch once evaluated and how
        well its spread was calibrated (the share within one and two spreads)."""
        from .surrogate import prediction_quality

        p = self.problem
        recs = [r for (a, b), r in p.cache.items() if b == p.budget and r.get("generation") == gen]
        batch = []
        for r in recs:
            entry = {"arch_id": r["arch_id"], "genome": r["genome"], "status": r.get("status")}
            for key in ("predicted", "predicted_std", "selected_by"):
                if key in r:
                    entry[key] = r[key]
            entry["actual"] = {o: objective_value(r, o, p.maximize) for o in r.get("predicted", {})} if r.get("status") == "ok" else None
            batch.append(entry)
        quality = {}
        for o in info.get("predictor", {}):
            rows = [(b["actual"][o], b["predicted"][o], b.get("predicted_std", {}).get(o, 0.0)) for b in batch
                    if b["actual"] and o in b.get("predicted", {})]
            quality[o] = prediction_quality([a for a, _, _ in rows], [q for _, q, _ in rows], [s for _, _, s in rows])
        self.store.write_json(f"surrogate/iter_{gen:03d}.json",
                              {"generation": gen, **info, "batch": batch, "batch_quality": quality})

    def _write_generation(self, gen: int, X, F, G, info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        p = self.problem
        pop = []
        for pt, x, f, g in zip(p.points.points(X), X, F, G):
            member = {
                "arch_id": pt.arch_id,
                "genome": pt.genome,
                "x": [int(v) for v in x],
                "objectives": dict(zip(p.objectives, map(float, f))),
                "violation": float(np.maximum(np.asarray(g, float), 0).sum()) if len(g) else 0.0,
            }
            if p.multi_fidelity:
                member["epochs"] = p.reached.get(pt.arch_id)  # the budget behind its objectives
            pop.append(member)
        front = self.front()
        out = {
            "generation": gen,
            "population": pop,
            "front": [r["arch_id"] for r in front],
            "hypervolume": self.hv(front),
            "evaluated": len(self.ok_records()),
            "elapsed_s": time.perf_counter() - self.t0,
            "new_results": dict(p.gen_trained),  # per budget ("lookup" for a table)
            "proposed": p.proposed - p.gen_proposed,  # gene vectors sent this generation
            "duplicates_rejected": int((info or {}).get("duplicates_rejected", 0)),
            "distinct_evaluations": p.spent(),  # so far, in this run
        }
        if (info or {}).get("surrogate") is not None:
            sg = info["surrogate"]
            out["surrogate"] = {k: sg[k] for k in ("phase", "predictor", "cv_kendall_tau", "train_size", "local_share",
                                                   "selected_by") if k in sg}
        if not self.cfg.tabular:
            out["epochs_trained"] = p.gen_epochs
        self.store.write_json(f"generations/gen_{gen:03d}.json", out)
        return out

    def _write_front(self, front: List[Dict[str, Any]]) -> None:
        extra = list(getattr(self.problem.points, "table", None).columns) if self.cfg.tabular else []
        write_front(self.store, front, self.problem.objectives, self.problem.maximize, extra,
                    source=f"table {self.cfg.table.path}" if self.cfg.tabular else None)

    def _prune_weights(self, front: List[Dict[str, Any]]) -> None:
        if self.cfg.evaluation.keep_weights != "front":
            return
        keep = {r["arch_id"] for r in front}
        for f in self.store.path("weights").glob("*.pt"):
            if f.stem not in keep:
                try:
                    f.unlink()
                except FileNotFoundError:
                    pass


FRONT_COLUMNS = ("arch_id", "genome", "val_acc", "val_acc_se", "test_acc", "test_acc_se", "within_noise_of", "error",
                 "params", "macs", "flops", "latency", "epochs", "seconds")


def pareto_front(records: List[Dict[str, Any]], objectives: Sequence[str], maximize: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Non-dominated records (one per arch id), sorted by parameters (or the first cost objective)."""
    if not records:
        return []
    F = np.array([[objective_value(r, o, maximize) for o in objectives] for r in records])
    mask = non_dominated(F)
    front = [r for r, m in zip(records, mask) if m]
    key = "params" if all("params" in r for r in front) else objectives[-1]
    front.sort(key=lambda r: (objective_value(r, key, maximize), -r.get("val_acc", 0), r["arch_id"]))
    return front


def table_reference(table, objectives: Sequence[str], maximize: Sequence[str] = (),
                    costs_only: bool = False) -> Dict[str, Any]:
    """Hypervolume normalisation of a tabular space: each objective's exact range over the table.

    ``costs_only`` (a search's own ``hv_reference.json``): only the cost columns - known before
    evaluating, as a network's params - are read from the table; the error spans [0, 1], and
    another result column the range of the values the search will meet is unknown, so its range
    is read as well but never shown to the engine (the run's hypervolume only)."""
    rows = list(table.rows.values())
    costs = set(getattr(table, "columns", ())) & {"params", "macs", "flops", "latency"}
    lower, upper, log = [], [], []
    for o in objectives:
        if costs_only and o == "error":
            lower.append(0.0)
            upper.append(1.0)
            log.append(False)
            continue
        if costs_only and o in costs:
            v = np.array([-float(r[o]) if o in maximize else float(r[o]) for r in rows], dtype=float)
        else:
            v = np.array([objective_value({**r, "status": "ok"}, o, maximize) for r in rows], dtype=float)
        lower.append(float(v.min()))
        upper.append(float(v.max()))
        log.append(o in LOG_OBJECTIVES and o not in maximize and bool(np.all(v > 0)))
    note = ("objectives normalised to [0, 1] between the table's exact lower and upper (log10 for positive costs)"
            if not costs_only else
            "costs normalised to [0, 1] between the table's exact lower and upper (log10 when positive), error "
            "between 0 and 1; read from the cost columns only")
    return {
        "objectives": list(objectives),
        "maximize": list(maximize),
        "lower": lower,
        "upper": upper,
        "log_scale": log,
        "ref_point": [1.1] * len(lower),
        "note": note,
    }


def front_hypervolume(front: List[Dict[str, Any]], reference: Dict[str, Any]) -> float:
    """Hypervolume of records normalised with a run's ``hv_reference.json``."""
    if not front:
        return 0.0
    maximize = reference.get("maximize", ())
    F = np.array([[objective_value(r, o, maximize) for o in reference["objectives"]] for r in front])
    N = np.clip(normalise(F, reference["lower"], reference["upper"], reference["log_scale"]), 0.0, None)
    return hypervolume(N, reference["ref_point"])


def write_front(store, front: List[Dict[str, Any]], objectives: Sequence[str], maximize: Sequence[str] = (),
                extra_columns: Sequence[str] = (), source: Optional[str] = None) -> None:
    from ..analysis.uncertainty import NOISE_COLUMNS, mark_within_noise

    rows = [{**r, "error": objective_value(r, "error")} if ("val_acc" in r or "error" in r) else dict(r) for r in front]
    rows = mark_within_noise(rows, [o for o in objectives if o != "error" and o not in maximize])

    def present(c):
        return any(r.get(c) is not None for r in rows)

    columns = [c for c in FRONT_COLUMNS if c in ("arch_id", "genome") or present(c)]
    columns += [c for c in list(objectives) + list(extra_columns) if c not in columns and present(c)]
    where = source or "accuracy on the validation split after proxy training"
    # front.csv is a plain table (pandas.read_csv reads it with no options); what its columns
    # mean, the objectives and the FLOPs convention are in front.json beside it
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in columns})
    store.write_text("front.csv", buf.getvalue())
    notes = ["columns as in the table; nothing was trained" if source else CONVENTION]
    if present("val_acc_se"):
        notes.append(NOISE_COLUMNS)
    store.write_json(
        "front.json",
        {"objectives": list(objectives), "maximize": list(maximize), "convention": CONVENTION,
         "accuracy": where, "columns": columns, "notes": notes, "members": rows},
    )
