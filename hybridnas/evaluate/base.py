"""The evaluator interface and the work one candidate takes, shared by every backend.

:func:`evaluate_candidate` is the whole job for one candidate
(:class:`~hybridnas.evaluate.candidate.Candidate`) - build the network from its architecture JSON,
seed, train for its budget, measure accuracy, return metrics and weights - and depends on nothing
but its arguments, so a local loop, a process pool or a Ray task can run it alike. Failures come
back as data (:func:`~hybridnas.evaluate.candidate.failure`).

What a worker process needs (settings, threads, timeout) travels as one :class:`WorkerSetup`;
:func:`start_worker` prepares a process for it, the same for the local pool and for Ray. Tensors
cross between processes packed (:class:`~hybridnas.evaluate.packing.Packed`: one flat tensor per
dtype).

:meth:`Evaluator.evaluate_batch` hands a batch to the backend longest first (by analytic MACs
times the epochs left), so the long trainings start early and no worker waits long at the end
of a generation for the last one.

Every accuracy comes with the number of images it was measured on (``val_n``, ``test_n``) and
its standard error (``val_acc_se``, ``test_acc_se``; :mod:`hybridnas.core.uncertainty`).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ..config import RunConfig
from ..core.uncertainty import accuracy_fields
from ..data import Dataset
from ..device import (
    configure,
    cpu_cores,
    derive_seed,
    fits_on_device,
    resolve_precision,
    restore_threads,
    seed_everything,
    thread_plan,
    torch_threads,
)
from ..space.genome import ArchSpec
from ..training import DivergedError, TrainingTimeout, TrainSettings, fit, make_optimizer
from . import EVALUATORS
from .candidate import Candidate, OnResult, Result, candidate_cost, failure, is_oom
from .folds import Folds
from .packing import Packed, pack_result, unpack_result


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs besides the data and its device, as one picklable value."""

    settings: TrainSettings
    threads: int  # torch threads per candidate
    deterministic: bool = False
    timeout_s: Optional[float] = None
    copies: int = 1  # concurrent workers sharing the device (for the data-fits decision)
    keep_state: bool = True
    folds: Optional[Folds] = None  # k-fold cross-validation of every candidate (evaluation.folds)


def place_data(data, device, copies: int = 1):
    """The dataset on ``device`` when ``copies`` of it fit there, else on the host (batches are
    then staged in pinned memory and copied per step)."""
    if fits_on_device(data.nbytes, device, copies):
        return data.to(device)
    return data.to("cpu")


def start_worker(data, setup: WorkerSetup, device):
    """Prepare this process to train candidates on ``device``; returns the data to train on
    (its torch threads are ``setup.threads`` for the life of the process)."""
    configure(device, setup.deterministic, setup.threads)
    return place_data(data, device, setup.copies)


def evaluate_candidate(
    cand: Candidate,
    data,
    settings: TrainSettings,
    device,
    keep_state: bool = True,
    timeout_s: Optional[float] = None,
    folds: Optional[Folds] = None,
) -> Result:
    """Train one candidate and measure it. Failures come back as data (``status: failed``).

    Out of memory: the training restarts once, from scratch with the same seed, at half the
    batch size (recorded as ``batch_size``); a second out-of-memory fails the candidate. With
    ``folds`` the candidate trains once per fold (:class:`Folds`); the timeout covers them all.
    """
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout_s if timeout_s else None
    s = settings
    tried: List[int] = []
    while True:
        oom = None
        try:
            if folds is None or folds.k <= 1:
                out = _train(cand, data, s, device, keep_state, deadline)
            else:
                out = _train_folds(cand, data, s, device, keep_state, deadline, folds)
        except DivergedError as exc:
            return failure(cand, "diverged", str(exc), time.perf_counter() - t0)
        except TrainingTimeout as exc:
            return failure(cand, "timeout", f"{exc} after {timeout_s:g} s", time.perf_counter() - t0)
        except (RuntimeError, MemoryError) as exc:
            if not (isinstance(exc, MemoryError) or is_oom(exc)):
                raise
            oom = str(exc).splitlines()[0][:200]
        if oom is None:
            out.update(seconds=time.perf_counter() - t0, device=str(device),
                       precision=resolve_precision(s.precision, device), threads=torch.get_num_threads())
            if tried:
                out.update(batch_size=s.batch_size,
                           note=f"out of memory at batch size {tried[-1]}; retried at {s.batch_size}")
            return out
        # Outside the except block, so the failed attempt's frames (and tensors) are released.
        tried.append(s.batch_size)
        gc.collect()
        if torch.device(device).type == "cuda":
            torch.cuda.empty_cache()
        if len(tried) > 1 or s.batch_size == 1:
            sizes = " and ".join(map(str, tried))
            return failure(cand, "out_of_memory", f"at batch size {sizes}: {oom}", time.perf_counter() - t0)
        s = replace(s, batch_size=max(1, s.batch_size // 2))


def _train(cand: Candidate, data, s: TrainSettings, device, keep_state: bool, deadline) -> Result:
    from ..space.builder import build_network  # looked up per call: tests stand in for it (memory limits)

    spec = ArchSpec.from_json(cand.arch)
    seed_everything(cand.seed)
    model = build_network(spec).to(device)
    s = replace(s, epochs=cand.schedule or cand.epochs)
    opt = make_optimizer(model, s)
    first = 0
    if cand.start is not None:  # continue a shorter budget's training (same schedule, same seed)
        model.load_state_dict(cand.start["model"])
        opt.load_state_dict(cand.start["optimizer"])
        first = int(cand.start["epoch"])
    metrics = fit(model, data, s, seed=cand.seed, eval_splits=("val", "test"), start_epoch=first,
                  stop_epoch=cand.epochs, optimizer=opt, deadline=deadline)
    out: Result = {"arch_id": cand.arch_id, "epochs": cand.epochs, "status": "ok"}
    for split in ("val", "test"):
        out.update(accuracy_fields(split, metrics[f"{split}_acc"], len(getattr(data, split))))
    out["train_loss"] = metrics["train_loss"]
    if cand.schedule is not None or cand.start is not None:
        out.update(schedule_epochs=s.epochs, trained_epochs=cand.epochs - first)
    if keep_state or cand.checkpoint:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}  # one copy serves both
        if keep_state:
            out["state"] = weights
        if cand.checkpoint:
            out["checkpoint"] = {"model": weights, "optimizer": _to_cpu(opt.state_dict()), "epoch": cand.epochs}
    return out


def _train_folds(cand: Candidate, data, s: TrainSettings, device, keep_state: bool, deadline, folds: Folds) -> Result:
    """One training per fold; accuracies pooled over the folds' validation parts (:class:`Folds`)."""
    correct, seen, tests, losses, fold_acc = 0.0, 0, [], [], []
    out: Result = {}
    for i, fold in enumerate(folds.datasets(data)):
        c = cand if i == 0 else replace(cand, seed=derive_seed(cand.seed, "fold", i))
        r = _train(c, fold, s, device, keep_state and i == 0, deadline)
        if i == 0:
            out = r
        n = r["val_n"]
        correct += r["val_acc"] * n
        seen += n
        fold_acc.append(r["val_acc"])
        tests.append(r["test_acc"])
        losses.append(r["train_loss"])
    out.update(accuracy_fields("val", correct / seen, seen))
    out.update(accuracy_fields("test", sum(tests) / len(tests), len(data.test)))
    out.update(train_loss=sum(losses) / len(losses), folds=folds.k, fold_val_acc=fold_acc)
    return out


def _to_cpu(obj):
    """A state dict with every tensor on the CPU (to cross processes and be saved)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def run_setup(cand: Candidate, data, setup: WorkerSetup, device) -> Result:
    """:func:`evaluate_candidate` with a worker's setup (threads applied per candidate); the
    candidate's starting state arrives packed and the result's tensors leave packed."""
    if isinstance(cand.start, Packed):
        cand = replace(cand, start=cand.start.unpack())
    with torch_threads(setup.threads):
        return pack_result(evaluate_candidate(cand, data, setup.settings, device, setup.keep_state, setup.timeout_s,
                                              setup.folds))


class Evaluator:
    """Base evaluator: holds the data and settings, runs candidates one after the other.

    Subclasses override :meth:`_run` to place the work elsewhere; :meth:`evaluate_batch` keeps
    the bookkeeping (order of results, the callback as each finishes). ``workdir`` is a folder
    of the run a backend may keep its own files in (Ray's session logs).
    """

    name = "base"

    def __init__(self, cfg: RunConfig, data: Optional[Dataset], device, settings: Optional[TrainSettings] = None,
                 workdir=None):
        self.cfg = cfg
        self.data = data
        self.device = device
        self.workdir = workdir
        self.settings = settings or TrainSettings.from_eval(cfg.evaluation, augment=cfg.data.augment)
        resolve_precision(self.settings.precision, device)  # a precision the GPU lacks: say so now
        k = cfg.evaluation.folds
        self.folds = Folds(k, derive_seed(cfg.seed, "folds")) if k > 1 else None
        if self.folds is not None and data is not None:
            self.folds.check(data)

    @classmethod
    def check_config(cls, cfg: RunConfig, source: str = "config") -> None:
        """Checks of the config this backend needs (run before anything is trained)."""

    def setup(self, threads: int, copies: int = 1) -> WorkerSetup:
        e = self.cfg.evaluation
        return WorkerSetup(self.settings, threads, self.cfg.deterministic, e.timeout_s, copies, folds=self.folds)

    def cpu_share(self) -> int:
        """The cores one training process of this backend may use (torch threads at most that)."""
        return cpu_cores()

    def threads(self) -> Tuple[int, Optional[str]]:
        """Torch threads per candidate, and a note when the config's ``threads`` was lowered."""
        return thread_plan(self.cfg.threads, self.cpu_share())

    def evaluate_batch(self, candidates: Sequence[Candidate], on_result: Optional[OnResult] = None) -> List[Result]:
        """Train ``candidates``; results in their order, ``on_result`` as each one finishes.

        The backend gets them longest first (a stable sort, so equal costs keep their order):
        with several workers, the short ones then fill in around the long ones instead of a
        long one starting last while the other workers wait for it.
        """
        results: Dict[str, Result] = {}
        given = {c.arch_id: c for c in candidates}

        def done(c: Candidate, r: Result) -> None:
            c = given[c.arch_id]
            r = unpack_result(r)
            results[c.arch_id] = r
            if on_result is not None:
                on_result(c, r)

        ordered = sorted(candidates, key=candidate_cost, reverse=True)
        self._run([replace(c, start=Packed.pack(c.start)) if c.start is not None else c for c in ordered], done)
        return [results[c.arch_id] for c in candidates]

    def _run(self, candidates: List[Candidate], done: OnResult) -> None:
        """In this process, one after the other: configured as a worker would be (the search did
        that already), and the caller's thread count given back at the end."""
        threads = self.threads()[0]
        before = configure(self.device, self.cfg.deterministic, threads)
        try:
            setup = self.setup(threads)
            for c in candidates:
                done(c, run_setup(c, self.data, setup, self.device))
        finally:
            restore_threads(before)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_evaluator(cfg: RunConfig, data: Optional[Dataset], device, workdir=None) -> Evaluator:
    return EVALUATORS.get(cfg.evaluation.evaluator, key="evaluation.evaluator")(cfg, data, device, workdir=workdir)
