"""The network stage: NSGA-II over genomes, cheap objectives first, training only what is new.

:class:`NetworkProblem` is the problem the engine sees. For a batch of genomes it

1. decodes each into an :class:`~hybridnas.space.genome.ArchSpec` and costs it analytically
   (params, MACs; exact and microseconds);
2. computes constraint violations (``max_params``, ``max_flops``), normalised by the limit;
   infeasible genomes are never trained - constraint-domination ranks them;
3. sends feasible genomes that are not in the cache (keyed by arch id and budget) to the
   evaluator, appending a record to ``evaluations.jsonl`` as each finishes;
4. returns objectives ``F`` (error, params, FLOPs...) and constraints ``G``.

:class:`NetworkStage` runs an engine over it and keeps the run store current after every
generation: the population (``generations/gen_NNN.json``), the front of everything evaluated so
far (``front.csv``/``front.json``) and the hypervolume history. Resume is a replay: the engine is
deterministic for its seed given objective values, and every finished evaluation is in the cache,
so a restarted search retraces its steps without training anything twice.
"""

from __future__ import annotations

import csv
import io
import math
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..analysis.pareto import hypervolume, non_dominated, normalise
from ..block.library import CONVENTION, LibraryEntry
from ..device import derive_seed
from ..errors import UserError
from ..evaluate.base import Candidate, Evaluator
from ..progress import Progress
from ..space.genome import ArchSpec, GenomeSpace
from .costs import network_cost
from .engines import build_engine
from .problem import Problem

EVALS = "evaluations.jsonl"
LOG_OBJECTIVES = ("params", "flops", "macs")


def arch_spec(cfg, blocks, data, genome) -> ArchSpec:
    """The network ``genome`` describes, with the run's block library and the data's shapes."""
    return ArchSpec(genome, tuple(blocks), cfg.network.base_width, cfg.cell.nodes,
                    data.in_chans, data.num_classes, data.image_size)


def make_candidate(cfg, spec: ArchSpec, epochs: int) -> Candidate:
    """A candidate with its own seed (from the run seed and its id): the same wherever it runs."""
    return Candidate(spec.arch_id, spec.to_json(), epochs, derive_seed(cfg.seed, "candidate", spec.arch_id))


def random_candidates(cfg, blocks, data, n: int, seed: int) -> List[Candidate]:
    """``n`` distinct random networks of the space (constraints ignored): a population for
    benchmarks and tests of the evaluators, built exactly as the search builds candidates."""
    space = GenomeSpace(cfg.network, len(blocks))
    rng = np.random.default_rng(seed)
    out: Dict[str, Candidate] = {}
    for _ in range(100 * n):
        if len(out) == n:
            break
        spec = arch_spec(cfg, blocks, data, space.decode(space.spec.sample(rng, 1)[0]))
        out.setdefault(spec.arch_id, make_candidate(cfg, spec, cfg.evaluation.epochs))
    return list(out.values())


def objective_value(record: Dict[str, Any], name: str) -> float:
    if name == "error":
        return 1.0 - float(record["val_acc"]) if record.get("status") == "ok" else 1.0
    return float(record[name])


class NetworkProblem(Problem):
    def __init__(self, cfg, library: Sequence[LibraryEntry], data, evaluator: Evaluator, store, progress: Progress):
        self.cfg = cfg
        self.space = GenomeSpace(cfg.network, len(library))
        self.blocks = tuple(e.genotype for e in library)
        self.data = data
        self.evaluator = evaluator
        self.store = store
        self.progress = progress
        self.objectives = tuple(cfg.objectives)
        c = cfg.constraints
        self.limits = [(k, v) for k, v in (("params", c.max_params), ("flops", c.max_flops)) if v is not None]
        self.n_var = self.space.spec.n_var
        self.n_obj = len(self.objectives)
        self.n_constr = len(self.limits)
        self.xl, self.xu = self.space.spec.xl, self.space.spec.xu
        self.integer = True
        self.budget = cfg.evaluation.epochs
        self.cache: Dict[Tuple[str, int], Dict[str, Any]] = {}
        store.repair(EVALS)
        for r in store.records(EVALS):
            self.cache[(r["arch_id"], int(r["epochs"]))] = r
        self.generation = 0
        self.new_evals = 0
        self.cached_hits = 0
        self.infeasible = 0

    def spec(self, x) -> ArchSpec:
        return arch_spec(self.cfg, self.blocks, self.data, self.space.decode(x))

    def cheap(self, spec: ArchSpec) -> Dict[str, Any]:
        cost = network_cost(spec)
        return {"params": cost.params, "macs": cost.macs, "flops": cost.flops}

    def violations(self, cheap: Dict[str, Any]) -> List[float]:
        return [cheap[k] / limit - 1.0 for k, limit in self.limits]

    def evaluate(self, X: np.ndarray):
        specs = [self.spec(x) for x in X]
        cheap = [self.cheap(s) for s in specs]
        G = np.array([self.violations(c) for c in cheap], dtype=float).reshape(len(X), self.n_constr)
        feasible = np.all(G <= 0, axis=1)
        todo: Dict[str, Candidate] = {}
        for spec, ok in zip(specs, feasible):
            aid = spec.arch_id
            if not ok:
                self.infeasible += 1
                continue
            if (aid, self.budget) in self.cache or aid in todo:
                self.cached_hits += (aid, self.budget) in self.cache
                continue
            todo[aid] = make_candidate(self.cfg, spec, self.budget)
        by_id = {s.arch_id: (s, c) for s, c in zip(specs, cheap)}
        if todo:
            bar = self.progress.bar(f"  gen {self.generation + 1} training", len(todo))
            done = [0]

            def on_result(cand: Candidate, result: Dict[str, Any]) -> None:
                spec, c = by_id[cand.arch_id]
                self._record(spec, c, result)
                done[0] += 1
                acc = result.get("val_acc")
                bar.update(done[0], f"{spec.genome} " + (f"acc {acc:.3f}" if acc is not None else result.get("reason", "")))

            with bar:
                self.evaluator.evaluate_batch(list(todo.values()), on_result)
        F = np.zeros((len(X), self.n_obj))
        for n, (spec, c, ok) in enumerate(zip(specs, cheap, feasible)):
            rec = self.cache.get((spec.arch_id, self.budget)) if ok else None
            for j, name in enumerate(self.objectives):
                if name == "error":
                    F[n, j] = objective_value(rec, "error") if rec else 1.0
                else:
                    F[n, j] = c[name]
        return F, G

    def _record(self, spec: ArchSpec, cheap: Dict[str, Any], result: Dict[str, Any]) -> None:
        state = result.pop("state", None)
        record = {
            "arch_id": spec.arch_id,
            "genome": spec.genome.to_string(),
            **cheap,
            **{k: v for k, v in result.items() if k not in ("arch_id",)},
            "generation": self.generation,
        }
        if state is not None and self.cfg.evaluation.keep_weights != "none" and result.get("status") == "ok":
            rel = f"weights/{spec.arch_id}.pt"
            self.store.save_tensors(rel, state)  # weights first: a record implies its weights exist
            record["weights"] = rel
        self.store.append(EVALS, record)
        self.cache[(spec.arch_id, int(record["epochs"]))] = record
        self.new_evals += 1


class NetworkStage:
    def __init__(self, cfg, library: Sequence[LibraryEntry], data, evaluator: Evaluator, store, progress: Optional[Progress] = None):
        self.cfg = cfg
        self.store = store
        self.progress = progress or Progress(quiet=True)
        self.problem = NetworkProblem(cfg, library, data, evaluator, store, self.progress)
        self.reference = self._hv_reference()
        self.t0 = time.perf_counter()

    def _hv_reference(self) -> Dict[str, Any]:
        """Fixed bounds for normalising objectives, so hypervolumes compare across generations.

        Cost bounds come from 2,000 random genomes of the space (analytic, milliseconds) widened
        by 10 % on a log scale; error is in [0, 1]. Written once and reused on resume.
        """
        if self.store.exists("hv_reference.json"):
            return self.store.read_json("hv_reference.json")
        p = self.problem
        rng = np.random.default_rng(derive_seed(self.cfg.seed, "hv-reference"))
        X = p.space.spec.sample(rng, 2000)
        costs = [p.cheap(p.spec(x)) for x in X]
        lower, upper, log = [], [], []
        for name in p.objectives:
            if name == "error":
                lower.append(0.0)
                upper.append(1.0)
                log.append(False)
            else:
                v = np.array([c[name] for c in costs], dtype=float)
                lower.append(float(v.min()) / 1.1)
                upper.append(float(v.max()) * 1.1)
                log.append(True)
        ref = {
            "objectives": list(p.objectives),
            "lower": lower,
            "upper": upper,
            "log_scale": log,
            "ref_point": [1.1] * len(lower),
            "note": "objectives normalised to [0, 1] between lower and upper (log10 for costs); HV against ref_point",
        }
        self.store.write_json("hv_reference.json", ref)
        return ref

    def run(self) -> Dict[str, Any]:
        cfg = self.cfg
        engine = build_engine(cfg.engine)
        bar = self.progress.bar("network search", cfg.engine.generations)
        self.problem.generation = 0

        def on_generation(gen: int, X, F, G) -> None:
            self._write_generation(gen, X, F, G)
            front = self.front()
            hv = self.hv(front)
            self._write_front(front)
            self._prune_weights(front)
            self.problem.generation = gen + 1
            bar.update(
                gen + 1,
                f"| evaluated {len(self.ok_records())} (new {self.problem.new_evals}) | front {len(front)} | HV {hv:.4f}",
            )

        with bar:
            engine.minimize(self.problem, derive_seed(cfg.seed, "engine"), on_generation)
        front = self.front()
        return {
            "front": front,
            "failed": self.failed_records(),
            "evaluated": len(self.ok_records()),
            "new_evaluations": self.problem.new_evals,
            "seconds": time.perf_counter() - self.t0,
        }

    # ------------------------------------------------------------------ bookkeeping

    def ok_records(self) -> List[Dict[str, Any]]:
        b = self.problem.budget
        return [r for (aid, ep), r in self.problem.cache.items() if ep == b and r.get("status") == "ok"]

    def failed_records(self) -> List[Dict[str, Any]]:
        b = self.problem.budget
        return [r for (aid, ep), r in self.problem.cache.items() if ep == b and r.get("status") != "ok"]

    def front(self) -> List[Dict[str, Any]]:
        return pareto_front(self.ok_records(), self.problem.objectives)

    def hv(self, front: List[Dict[str, Any]]) -> float:
        if not front:
            return 0.0
        F = np.array([[objective_value(r, o) for o in self.problem.objectives] for r in front])
        ref = self.reference
        N = np.clip(normalise(F, ref["lower"], ref["upper"], ref["log_scale"]), 0.0, None)
        return hypervolume(N, ref["ref_point"])

    def _write_generation(self, gen: int, X, F, G) -> None:
        p = self.problem
        pop = []
        for x, f, g in zip(X, F, G):
            spec = p.spec(x)
            pop.append(
                {
                    "arch_id": spec.arch_id,
                    "genome": spec.genome.to_string(),
                    "x": [int(v) for v in x],
                    "objectives": dict(zip(p.objectives, map(float, f))),
                    "violation": float(np.maximum(np.asarray(g, float), 0).sum()) if len(g) else 0.0,
                }
            )
        front = self.front()
        self.store.write_json(
            f"generations/gen_{gen:03d}.json",
            {
                "generation": gen,
                "population": pop,
                "front": [r["arch_id"] for r in front],
                "hypervolume": self.hv(front),
                "evaluated": len(self.ok_records()),
                "elapsed_s": time.perf_counter() - self.t0,
            },
        )

    def _write_front(self, front: List[Dict[str, Any]]) -> None:
        write_front(self.store, front, self.problem.objectives)

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


FRONT_COLUMNS = ("arch_id", "genome", "val_acc", "test_acc", "error", "params", "macs", "flops", "epochs", "seconds")


def pareto_front(records: List[Dict[str, Any]], objectives: Sequence[str]) -> List[Dict[str, Any]]:
    """Non-dominated records (one per arch id), sorted by parameters."""
    if not records:
        return []
    F = np.array([[objective_value(r, o) for o in objectives] for r in records])
    mask = non_dominated(F)
    front = [r for r, m in zip(records, mask) if m]
    front.sort(key=lambda r: (r["params"], -r.get("val_acc", 0)))
    return front


def write_front(store, front: List[Dict[str, Any]], objectives: Sequence[str]) -> None:
    rows = [{**r, "error": objective_value(r, "error")} for r in front]
    buf = io.StringIO()
    buf.write(f"# hybridnas front; objectives: {', '.join(objectives)}; accuracy on the validation split after proxy training\n")
    buf.write(f"# {CONVENTION}\n")
    w = csv.DictWriter(buf, fieldnames=list(FRONT_COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in FRONT_COLUMNS})
    store.write_text("front.csv", buf.getvalue())
    store.write_json(
        "front.json",
        {"objectives": list(objectives), "convention": CONVENTION, "accuracy": "validation split, after proxy training", "members": rows},
    )
