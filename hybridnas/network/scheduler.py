"""Which candidates are evaluated, at which budget, and what that cost: the network stage's
evaluation scheduler.

A :class:`Scheduler` owns

- the **cache** of finished evaluations, keyed by ``(arch id, budget)`` and read back from
  ``evaluations.jsonl`` when it starts (so a resumed search trains nothing twice);
- **successive halving** (:mod:`hybridnas.network.fidelity`): a batch is evaluated rung by rung,
  and only the candidates :func:`~hybridnas.network.fidelity.promote` picks go on to the next
  budget, continuing from their checkpoint;
- the **budget** (``engine.evaluations``): distinct networks that reached the full budget,
  counted over what the engine sent in this run - a replay after a resume counts its cache hits,
  so the budget spans sessions;
- the **counts** of what the engine did (proposed, infeasible, duplicates rejected, new results,
  epochs trained), for the run and for the current generation: one owner, changed only through
  :meth:`Scheduler.submit`, :meth:`Scheduler.rejected` and :meth:`Scheduler.next_generation`.

Every record and file it writes goes through :class:`~hybridnas.network.records.StageRecords`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..config import EvaluationConfig, RunConfig
from ..evaluate.base import Evaluator
from ..evaluate.candidate import Candidate, make_candidate
from ..progress import Progress
from . import fidelity
from .points import NetworkPoints, Point, Points
from .records import StageRecords

Record = Dict[str, Any]


def random_candidates(cfg: RunConfig, blocks, data, n: int, seed: int) -> List[Candidate]:
    """``n`` distinct random networks of the space over ``blocks`` (genotypes or library entries;
    constraints ignored): a population for benchmarks and tests of the evaluators, built exactly
    as the search builds candidates."""
    points = NetworkPoints(cfg, blocks, data)
    rng = np.random.default_rng(seed)
    out: Dict[str, Candidate] = {}
    for _ in range(100 * n):
        if len(out) == n:
            break
        [p] = points.points(points.spec.sample(rng, 1))
        out.setdefault(p.arch_id, make_candidate(cfg.seed, p.arch_id, p.arch, cfg.evaluation.epochs))
    return list(out.values())


class Scheduler:
    """Evaluates what the engine sends (see the module docstring).

    ``seed``: the run's (each candidate's own derives from it); ``limit``: ``engine.evaluations``;
    ``row(record)``: a record's objective vector (minimised), by which successive halving promotes.
    """

    def __init__(self, seed: int, evaluation: EvaluationConfig, limit: Optional[int], points: Points,
                 evaluator: Evaluator, records: StageRecords, progress: Progress,
                 row: Callable[[Record], Sequence[float]], callbacks=None):
        self.seed = seed
        self.evaluation = evaluation
        self.limit = limit  # budget of distinct full-budget evaluations (None: none)
        self.points = points
        self.evaluator = evaluator
        self.records = records
        self.progress = progress
        self.row = row
        self.callbacks = callbacks  # the search's hybridnas.callbacks.Callbacks, or None: told of each record
        self.budgets = points.budgets(evaluation)
        self.budget = self.budgets[-1]
        self.multi_fidelity = len(self.budgets) > 1
        self.cache: Dict[Tuple[str, Optional[int]], Record] = {}  # read it; change it through the methods
        for r in records.load_evaluations():
            self.cache[(r["arch_id"], r.get("epochs"))] = r
        self.sent: Dict[str, None] = {}  # feasible arch ids the engine sent in this run, in order
        self.codes: Dict[str, List[int]] = {}  # arch id -> its gene vector
        self.notes: Dict[str, Dict[str, Any]] = {}  # arch id -> what the engine said about it (predictions)
        self.reached: Dict[str, Optional[int]] = {}  # arch id -> budget of the result the engine last saw
        # counts of the run (a resume replays earlier sessions, so they span them)
        self.proposed = 0  # gene vectors the engine sent (feasible or not)
        self.infeasible = 0
        self.duplicates = 0  # offspring the engine dropped as repeats of earlier proposals
        self.cached_hits = 0
        self.new_evals = 0
        # the current generation
        self.generation = 0
        self.gen_proposed = 0  # self.proposed when the current generation began
        self.gen_trained: Dict[str, int] = {}  # new results per budget
        self.gen_epochs = 0  # epochs trained

    # ------------------------------------------------------------------ counting

    def next_generation(self, generation: int) -> None:
        """Start counting generation ``generation`` (0 when a run starts)."""
        self.generation = generation
        self.gen_trained = {}
        self.gen_epochs = 0
        self.gen_proposed = self.proposed

    def rejected(self, n: int) -> None:
        """The engine dropped ``n`` offspring as repeats of earlier proposals."""
        self.duplicates += n

    def remember(self, record: Record) -> None:
        """Put a record written elsewhere (``--init-from`` copies) in the cache."""
        self.cache[(record["arch_id"], record.get("epochs"))] = record

    def spent(self) -> int:
        """Distinct networks the engine sent in this run that have a full-budget result."""
        return sum((a, self.budget) in self.cache for a in self.sent)

    def affordable(self, ids: Sequence[str], feasible: Sequence[bool]) -> int:
        """How many leading candidates the budget pays for. A new feasible network costs one unit
        (assumed to reach the full budget: successive halving may stop it earlier, never later);
        infeasible ones and networks already sent are free."""
        if self.limit is None:
            return len(ids)
        left = self.limit - self.spent()
        new = set()
        for n, (a, ok) in enumerate(zip(ids, feasible)):
            if a in self.sent or a in new or not ok:
                continue
            if len(new) >= left:
                return n
            new.add(a)
        return len(ids)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent() >= self.limit

    def top(self, ok: bool = True) -> List[Record]:
        """Records at the full budget: the successful ones, or (``ok=False``) the failed ones."""
        b = self.budget
        return [r for (_, ep), r in self.cache.items() if ep == b and (r.get("status") == "ok") == ok]

    def of_generation(self, gen: int) -> List[Record]:
        """Full-budget records made in generation ``gen``."""
        return [r for (_, b), r in self.cache.items() if b == self.budget and r.get("generation") == gen]

    def stopped_early(self) -> int:
        """Networks that never reached the full budget (multi-fidelity)."""
        full = {a for (a, b) in self.cache if b == self.budget}
        return len({a for (a, _) in self.cache} - full)

    def generation_counts(self) -> Dict[str, Any]:
        """What the current generation did, for its ``generations/gen_NNN.json``."""
        return {
            "new_results": dict(self.gen_trained),  # per budget ("lookup" for a table)
            "proposed": self.proposed - self.gen_proposed,  # gene vectors sent this generation
        }

    def counts(self) -> Dict[str, Any]:
        """What the engine did in this run (a resume replays earlier sessions, so these span them)."""
        return {
            "proposed": self.proposed,  # gene vectors sent for evaluation (never one twice)
            "duplicates_rejected": self.duplicates,  # offspring dropped as repeats of earlier proposals
            "infeasible": self.infeasible,  # sent, but violating a constraint: not evaluated
            "distinct_evaluations": self.spent(),  # distinct networks with a full-budget result
            "budget": self.limit,  # engine.evaluations
        }

    # ------------------------------------------------------------------ evaluation

    def submit(self, points: Sequence[Point], feasible: Sequence[bool], X: np.ndarray,
               notes: Optional[Sequence[Dict[str, Any]]] = None) -> Dict[str, Record]:
        """Evaluate the feasible ``points`` (rows of ``X``) not evaluated yet; the record of the
        highest budget each feasible one reached, by arch id."""
        self.proposed += len(X)
        cands: Dict[str, Point] = {}
        for n, (p, ok) in enumerate(zip(points, feasible)):
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
        for p, ok in zip(points, feasible):
            rec = results.get(p.arch_id) if ok else None
            if rec is not None:
                self.reached[p.arch_id] = rec.get("epochs")
        return results

    def _halving(self, cands: Dict[str, Point]) -> Dict[str, Record]:
        """Evaluate ``cands`` rung by rung; the record of the highest budget each one reached."""
        g = self.generation
        results: Dict[str, Record] = {}
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
            up = set(fidelity.promote(ok, archive, self.row, self.evaluation.fidelity.promote))
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
            start = self.records.checkpoint(p.arch_id, self.budgets[k - 1]) if k > 0 else None
            cands.append(make_candidate(self.seed, p.arch_id, p.arch, b,
                                        schedule=self.budget if self.multi_fidelity else None,
                                        start=start, checkpoint=self.multi_fidelity and not top))
        by_id = {p.arch_id: p for p in points}
        if not self.points.trains:  # a lookup takes microseconds: no progress bar
            self.evaluator.evaluate_batch(cands, lambda c, r: self._record(by_id[c.arch_id], r, k))
            return
        what = f"{b} epochs" if self.multi_fidelity else "training"
        bar = self.progress.bar(f"  gen {self.generation + 1} {what}", len(cands))
        done = [0]

        def on_result(cand: Candidate, result: Dict[str, Any]) -> None:
            self._record(by_id[cand.arch_id], result, k)
            done[0] += 1
            acc = result.get("val_acc")
            shown = f"acc {acc:.3f}" if acc is not None else result.get("reason", "")
            bar.update(done[0], f"{by_id[cand.arch_id].genome} {shown}")

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
        keep = state is not None and top and ok and self.evaluation.keep_weights != "none"
        self.records.save_evaluation(record, b, checkpoint=ckpt if ok else None, weights=state if keep else None)
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
        self.records.drop_checkpoint(arch_id, budget)
