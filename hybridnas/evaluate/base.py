"""The evaluator interface and the work one candidate takes, shared by every backend.

:func:`evaluate_candidate` is the whole job for one candidate - build the network from its
architecture JSON, seed, train for its budget, measure accuracy, return metrics and weights -
and depends on nothing but its arguments, so a local loop, a process pool or a Ray task can run
it alike. Candidates carry their own seed (derived from the run seed and the arch id), so a
candidate's result does not depend on which worker runs it or in which order.

Multi-fidelity (:mod:`hybridnas.network.fidelity`) adds three fields: ``schedule`` (the length of
the learning-rate schedule when it differs from ``epochs``), ``start`` (a state to continue
from: model and optimizer state after ``start["epoch"]`` epochs of the same schedule) and
``checkpoint`` (return such a state, so a longer budget can continue from this one).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..training import TrainSettings


@dataclass(frozen=True)
class Candidate:
    arch_id: str
    arch: Dict[str, Any]  # ArchSpec.to_json() (the genes of a row for a tabular space)
    epochs: Optional[int]  # the budget: train until this epoch (None: a table lookup)
    seed: int
    schedule: Optional[int] = None  # epochs of the learning-rate schedule (default: ``epochs``)
    start: Optional[Dict[str, Any]] = field(default=None, repr=False)  # {"model", "optimizer", "epoch"}
    checkpoint: bool = False  # return {"model", "optimizer", "epoch"} to continue from later

    def to_json(self) -> Dict[str, Any]:
        out = asdict(self)
        out["start"] = None if self.start is None else {"epoch": self.start["epoch"]}
        return out


Result = Dict[str, Any]
OnResult = Callable[[Candidate, Result], None]


def evaluate_candidate(cand: Candidate, data, settings: TrainSettings, device, keep_state: bool = True) -> Result:
    """Train one candidate and measure it. Failures come back as data (``status: failed``)."""
    import torch

    from ..device import seed_everything
    from ..network.builder import build_network
    from ..space.genome import ArchSpec
    from ..training import DivergedError, fit

    from ..training import make_optimizer

    t0 = time.perf_counter()
    base = {"arch_id": cand.arch_id, "epochs": cand.epochs}
    try:
        spec = ArchSpec.from_json(cand.arch)
        seed_everything(cand.seed)
        model = build_network(spec).to(device)
        s = TrainSettings(**{**asdict(settings), "epochs": cand.schedule or cand.epochs})
        opt = make_optimizer(model, s)
        first = 0
        if cand.start is not None:  # continue a shorter budget's training (same schedule, same seed)
            model.load_state_dict(cand.start["model"])
            opt.load_state_dict(cand.start["optimizer"])
            first = int(cand.start["epoch"])
        metrics = fit(model, data, s, seed=cand.seed, eval_splits=("val", "test"), start_epoch=first,
                      stop_epoch=cand.epochs, optimizer=opt)
    except DivergedError as exc:
        return {**base, "status": "failed", "reason": f"diverged: {exc}", "seconds": time.perf_counter() - t0}
    except torch.cuda.OutOfMemoryError as exc:  # the GPU evaluator retries with a smaller batch
        return {**base, "status": "failed", "reason": f"out of memory: {str(exc).splitlines()[0]}", "oom": True,
                "seconds": time.perf_counter() - t0}
    out: Result = {
        **base,
        "status": "ok",
        "val_acc": metrics["val_acc"],
        "test_acc": metrics["test_acc"],
        "train_loss": metrics["train_loss"],
        "seconds": time.perf_counter() - t0,
        "device": str(device),
    }
    if cand.schedule is not None or cand.start is not None:
        out.update(schedule_epochs=s.epochs, trained_epochs=cand.epochs - first)
    if keep_state:
        out["state"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if cand.checkpoint:
        out["checkpoint"] = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                             "optimizer": _to_cpu(opt.state_dict()), "epoch": cand.epochs}
    return out


def _to_cpu(obj):
    """A state dict with every tensor on the CPU (to cross processes and be saved)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


class Evaluator:
    """Base evaluator: holds the data and settings, runs candidates one after the other.

    Subclasses override :meth:`_run` to place the work elsewhere; :meth:`evaluate_batch` keeps
    the bookkeeping (order of results, the callback as each finishes).
    """

    name = "base"

    def __init__(self, cfg, data, device, settings: Optional[TrainSettings] = None):
        self.cfg = cfg
        self.data = data
        self.device = device
        self.settings = settings or TrainSettings.from_eval(cfg.evaluation, augment=cfg.data.augment)

    def evaluate_batch(self, candidates: Sequence[Candidate], on_result: Optional[OnResult] = None) -> List[Result]:
        results: Dict[str, Result] = {}

        def done(c: Candidate, r: Result) -> None:
            results[c.arch_id] = r
            if on_result is not None:
                on_result(c, r)

        self._run(list(candidates), done)
        return [results[c.arch_id] for c in candidates]

    def _run(self, candidates: List[Candidate], done: OnResult) -> None:
        for c in candidates:
            done(c, evaluate_candidate(c, self.data, self.settings, self.device))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_evaluator(cfg, data, device) -> Evaluator:
    from . import EVALUATORS

    return EVALUATORS.get(cfg.evaluation.evaluator, key="evaluation.evaluator")(cfg, data, device)
