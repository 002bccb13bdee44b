"""The network stage's driver: an engine over the :class:`~hybridnas.network.problem.NetworkProblem`,
the run store kept current after every generation, and the stage's result.

After each generation :class:`NetworkStage` writes the population
(``generations/gen_NNN.json``), the surrogate loop's iteration when there is one, the front of
everything evaluated so far (``front.csv``/``front.json``) and the hypervolume history, all
through :class:`~hybridnas.network.records.StageRecords`. Resume is a replay: the engine is
deterministic for its seed given objective values, promotions depend only on records of earlier
rungs and generations, and every finished evaluation is in the scheduler's cache, so a restarted
search retraces its steps without training anything twice.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from ..config import RunConfig
from ..core.objectives import front_hypervolume, maximized, objective_value, pareto_front
from ..device import derive_seed
from ..evaluate.base import Evaluator
from ..progress import Progress
from ..store import RunStore
from .engines.base import Engine, build_engine
from .points import Points
from .problem import NetworkProblem
from .records import StageRecords
from .surrogate import prediction_quality


class NetworkStage:
    """``NetworkStage(cfg, points, evaluator, store).run()``: the network search (module docstring).

    ``points``: the space (:mod:`hybridnas.network.points`); ``callbacks``: the search's
    :class:`hybridnas.callbacks.Callbacks`, told of each record and generation, or None.
    """

    def __init__(self, cfg: RunConfig, points: Points, evaluator: Evaluator, store: RunStore,
                 progress: Optional[Progress] = None, callbacks=None):
        self.cfg = cfg
        self.store = store
        self.records = StageRecords(store)
        self.progress = progress or Progress(quiet=True)
        self.callbacks = callbacks
        objectives, maximize = tuple(cfg.objectives), maximized(cfg)
        # written once and reused on resume, so hypervolumes compare across generations and sessions
        self.reference = self.records.reference(
            lambda: points.hv_reference(objectives, maximize, derive_seed(cfg.seed, "hv-reference")))
        self.problem = NetworkProblem(cfg, points, evaluator, store, self.progress, callbacks, self.reference)
        self.scheduler = self.problem.scheduler
        self.t0 = time.perf_counter()

    def run(self, initial: Optional[np.ndarray] = None) -> Dict[str, Any]:
        """Run the engine to the end; ``initial``: gene vectors that start generation 0 (``--init-from``)."""
        cfg = self.cfg
        engine = build_engine(cfg.engine)
        s = self.scheduler
        by_budget = cfg.engine.generations is None  # progress in evaluations when only the budget stops it
        total = cfg.engine.evaluations if by_budget else cfg.engine.generations
        bar = self.progress.bar("network search", total)
        s.next_generation(0)
        self._announce(engine)

        def on_generation(gen: int, X, F, G, info: Dict[str, Any]) -> None:
            s.rejected(int(info.get("duplicates_rejected", 0)))
            replayed = self.records.has_generation(gen)  # made by an earlier session
            summary = self._write_generation(gen, X, F, G, info)
            if info.get("surrogate") is not None:
                self._write_surrogate(gen, info["surrogate"])
            front = self.front()
            hv = self.hv(front)
            self._write_front(front)
            if cfg.evaluation.keep_weights == "front":
                self.records.prune_weights([r["arch_id"] for r in front])
            if self.callbacks and not replayed:
                self.callbacks.generation(summary)
            s.next_generation(gen + 1)
            bar.update(
                s.spent() if by_budget else gen + 1,
                f"| evaluated {len(s.top())} (new {s.new_evals}) | front {len(front)} | HV {hv:.4f}",
            )

        with bar:
            engine.minimize(self.problem, derive_seed(cfg.seed, "engine"), on_generation, initial=initial)
        return {
            "front": self.front(),
            "failed": s.top(ok=False),
            "evaluated": len(s.top()),
            "stopped_early": s.stopped_early(),  # multi-fidelity
            "new_evaluations": s.new_evals,
            "search": self.counts(),
            "seconds": time.perf_counter() - self.t0,
        }

    def counts(self) -> Dict[str, Any]:
        """What the engine did in this run (a resume replays earlier sessions, so these span them)."""
        return {**self.scheduler.counts(), "surrogate": bool(getattr(self.cfg.engine.surrogate, "enabled", False))}

    def _announce(self, engine: Engine) -> None:
        """One line saying how the network stage searches (and how to switch the surrogate)."""
        e = self.cfg.engine
        stop = ", ".join(x for x in ((f"{e.generations} generations" if e.generations is not None else ""),
                                     (f"{e.evaluations} distinct evaluations" if e.evaluations is not None else ""))
                         if x)
        if e.surrogate.enabled:
            s = e.surrogate
            self.progress.info(
                f"network search: surrogate-assisted {e.name} {e.algorithm} (on by default; "
                f"engine.surrogate.enabled=false for plain NSGA-II): {s.initial or e.pop_size} random networks, then "
                f"{s.batch or e.pop_size} per iteration from the predicted front; stops at {stop}")
        else:
            self.progress.info(f"network search: {e.name} {e.algorithm}, population {e.pop_size}; stops at {stop}")

    # ------------------------------------------------------------------ what is written each generation

    def front(self) -> List[Dict[str, Any]]:
        return pareto_front(self.scheduler.top(), self.problem.objectives, self.problem.maximize)

    def hv(self, front: List[Dict[str, Any]]) -> float:
        return front_hypervolume(front, self.reference)

    def _write_surrogate(self, gen: int, info: Dict[str, Any]) -> None:
        """``surrogate/iter_NNN.json``: the predictor chosen, its cross-validated rank correlation,
        what it predicted for the batch, and how well that ranked the batch once evaluated and how
        well its spread was calibrated (the share within one and two spreads)."""
        maximize = self.problem.maximize
        batch = []
        for r in self.scheduler.of_generation(gen):
            entry = {"arch_id": r["arch_id"], "genome": r["genome"], "status": r.get("status")}
            for key in ("predicted", "predicted_std", "selected_by"):
                if key in r:
                    entry[key] = r[key]
            entry["actual"] = ({o: objective_value(r, o, maximize) for o in r.get("predicted", {})}
                               if r.get("status") == "ok" else None)
            batch.append(entry)
        quality = {}
        for o in info.get("predictor", {}):
            rows = [(b["actual"][o], b["predicted"][o], b.get("predicted_std", {}).get(o, 0.0)) for b in batch
                    if b["actual"] and o in b.get("predicted", {})]
            quality[o] = prediction_quality([a for a, _, _ in rows], [q for _, q, _ in rows], [s for _, _, s in rows])
        self.records.write_surrogate(gen, {"generation": gen, **info, "batch": batch, "batch_quality": quality})

    def _write_generation(self, gen: int, X, F, G, info: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        p, s = self.problem, self.scheduler
        pop = []
        for pt, x, f, g in zip(p.points.points(X), X, F, G):
            member = {
                "arch_id": pt.arch_id,
                "genome": pt.genome,
                "x": [int(v) for v in x],
                "objectives": dict(zip(p.objectives, map(float, f))),
                "violation": float(np.maximum(np.asarray(g, float), 0).sum()) if len(g) else 0.0,
            }
            if s.multi_fidelity:
                member["epochs"] = s.reached.get(pt.arch_id)  # the budget behind its objectives
            pop.append(member)
        front = self.front()
        out = {
            "generation": gen,
            "population": pop,
            "front": [r["arch_id"] for r in front],
            "hypervolume": self.hv(front),
            "evaluated": len(s.top()),
            "elapsed_s": time.perf_counter() - self.t0,
            **s.generation_counts(),  # new results per budget, gene vectors proposed this generation
            "duplicates_rejected": int((info or {}).get("duplicates_rejected", 0)),
            "distinct_evaluations": s.spent(),  # so far, in this run
        }
        if (info or {}).get("surrogate") is not None:
            sg = info["surrogate"]
            out["surrogate"] = {k: sg[k] for k in ("phase", "predictor", "cv_kendall_tau", "train_size", "local_share",
                                                   "selected_by") if k in sg}
        if p.points.trains:
            out["epochs_trained"] = s.gen_epochs
        self.records.write_generation(gen, out)
        return out

    def _write_front(self, front: List[Dict[str, Any]]) -> None:
        p = self.problem
        self.records.write_front(front, p.objectives, p.maximize, p.points.front_columns, p.points.source)
