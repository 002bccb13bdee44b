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

Failures are data, not crashes: a candidate whose loss diverges, that runs out of memory twice
(the second time at half the batch), that runs past ``evaluation.timeout_s``, or whose worker
died more often than the backend retries comes back as ``status: failed`` with a ``failure``
kind (one of :data:`FAILURES`) and a ``reason``; the search records it and goes on. Any other
exception is a bug and propagates.

What a worker process needs (settings, threads, timeout) travels as one :class:`WorkerSetup`;
:func:`start_worker` prepares a process for it, the same for the local pool and for Ray. Tensors
cross between processes packed (:class:`Packed`: one flat tensor per dtype), not as the 200+
tensors of a state dict, each of which would be a shared-memory file of its own.

:meth:`Evaluator.evaluate_batch` hands a batch to the backend longest first (by analytic MACs
times the epochs left), so the long trainings start early and no worker waits long at the end
of a generation for the last one.

Every accuracy comes with the number of images it was measured on (``val_n``, ``test_n``) and
its standard error (``val_acc_se``, ``test_acc_se``; :mod:`hybridnas.core.uncertainty`).
"""

from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

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

# Why a candidate failed; the summary counts failures by these kinds.
FAILURES = ("diverged", "out_of_memory", "timeout", "worker_lost", "not_in_table")


def failure(cand: Candidate, kind: str, reason: str, seconds: Optional[float] = None, **extra) -> Result:
    """The record of a failed candidate."""
    assert kind in FAILURES, kind
    out: Result = {"arch_id": cand.arch_id, "epochs": cand.epochs, "status": "failed", "failure": kind,
                   "reason": f"{kind.replace('_', ' ')}: {reason}", **extra}
    if seconds is not None:
        out["seconds"] = seconds
    return out


def failure_kind(record: Result) -> str:
    """A failed record's kind (records written before kinds existed: the reason's first words)."""
    kind = record.get("failure")
    if kind:
        return kind
    head = str(record.get("reason", "unknown")).split(":")[0].strip().replace(" ", "_")
    return head or "unknown"


def is_oom(exc: BaseException) -> bool:
    """CUDA out of memory, or the CPU allocator refusing (torch raises a plain RuntimeError)."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker needs besides the data and its device, as one picklable value."""

    settings: TrainSettings
    threads: int  # torch threads per candidate
    deterministic: bool = False
    timeout_s: Optional[float] = None
    copies: int = 1  # concurrent workers sharing the device (for the data-fits decision)
    keep_state: bool = True
    folds: Optional["Folds"] = None  # k-fold cross-validation of every candidate (evaluation.folds)


@dataclass(frozen=True)
class Folds:
    """``evaluation.folds``: each candidate trains ``k`` times, fold ``i`` validating on the
    ``i``-th of ``k`` stratified parts of train + val and training on the rest. Every one of
    those images is then validated once, by a network that did not train on it: the validation
    accuracy is measured on all of them (``val_n``) and its standard error shrinks by about
    ``sqrt(k (train + val) / val)``, at ``k`` times the cost. The test split is untouched (its
    accuracy is the folds' mean); the first fold's network is the one kept. The parts depend
    on the run's seed only, so every candidate and every worker cuts the same ones."""

    k: int
    seed: int

    def datasets(self, data):
        """The ``k`` datasets, one at a time: train + val concatenated once, and one fold's
        copy of it at a time beside the original splits."""
        import numpy as np
        import torch
        from sklearn.model_selection import StratifiedKFold

        from ..data import Split

        x = torch.cat([data.train.x, data.val.x])
        y = torch.cat([data.train.y, data.val.y])
        parts = StratifiedKFold(n_splits=self.k, shuffle=True, random_state=self.seed)
        for tr, va in parts.split(np.zeros(len(y)), y.cpu().numpy()):
            tr, va = torch.as_tensor(tr, device=y.device), torch.as_tensor(va, device=y.device)
            yield replace(data, train=Split(x[tr], y[tr]), val=Split(x[va], y[va]))

    def check(self, data, key: str = "evaluation.folds") -> None:
        """Every class needs at least ``k`` images in train + val; say so before anything trains."""
        import torch

        from ..errors import UserError

        counts = torch.bincount(torch.cat([data.train.y, data.val.y]).cpu())
        present = counts[counts > 0]
        if len(present) and int(present.min()) < self.k:
            c = int(torch.nonzero(counts == present.min())[0])
            raise UserError(f"'{key}' is {self.k} but class {c} has only {int(present.min())} images in train + val; "
                            f"lower {key} to at most {int(present.min())}")


class _Slot(NamedTuple):
    """Where one tensor of a :class:`Packed` structure lies in its dtype's flat tensor."""

    dtype: str
    offset: int
    shape: Tuple[int, ...]


@dataclass(frozen=True)
class Packed:
    """A nested structure (dicts, lists, tuples) of CPU tensors as one flat tensor per dtype plus
    the structure with :class:`_Slot` s in the tensors' places: a few tensors to send between
    processes however many the structure holds. :meth:`unpack` gives views into the flat tensors."""

    flats: Dict[str, Any]
    tree: Any

    @classmethod
    def pack(cls, obj) -> "Packed":
        import torch

        parts: Dict[str, List[Any]] = {}
        sizes: Dict[str, int] = {}
        seen: Dict[int, _Slot] = {}

        def walk(o):
            if isinstance(o, torch.Tensor):
                slot = seen.get(id(o))
                if slot is None:  # one tensor referenced twice is packed once
                    key = str(o.dtype)[6:]  # "torch.float32" -> "float32"
                    t = o.detach()
                    if t.device.type != "cpu":
                        t = t.cpu()
                    slot = seen[id(o)] = _Slot(key, sizes.get(key, 0), tuple(o.shape))
                    parts.setdefault(key, []).append(t.reshape(-1))
                    sizes[key] = slot.offset + t.numel()
                return slot
            if isinstance(o, dict):
                return {k: walk(v) for k, v in o.items()}
            if isinstance(o, (list, tuple)) and not isinstance(o, _Slot):
                return type(o)(walk(v) for v in o)
            return o

        tree = walk(obj)
        return cls({k: torch.cat(v) for k, v in parts.items()}, tree)

    def unpack(self):
        def walk(o):
            if isinstance(o, _Slot):
                n = 1
                for d in o.shape:
                    n *= d
                return self.flats[o.dtype][o.offset:o.offset + n].view(o.shape)
            if isinstance(o, dict):
                return {k: walk(v) for k, v in o.items()}
            if isinstance(o, (list, tuple)):
                return type(o)(walk(v) for v in o)
            return o

        return walk(self.tree)


PACKED_FIELDS = ("state", "checkpoint")  # the tensors of a result


def pack_result(result: Result) -> Result:
    return {k: Packed.pack(v) if k in PACKED_FIELDS and v is not None else v for k, v in result.items()}


def unpack_result(result: Result) -> Result:
    return {k: v.unpack() if isinstance(v, Packed) else v for k, v in result.items()}


def place_data(data, device, copies: int = 1):
    """The dataset on ``device`` when ``copies`` of it fit there, else on the host (batches are
    then staged in pinned memory and copied per step)."""
    from ..device import fits_on_device

    if fits_on_device(data.nbytes, device, copies):
        return data.to(device)
    return data.to("cpu")


def start_worker(data, setup: WorkerSetup, device):
    """Prepare this process to train candidates on ``device``; returns the data to train on."""
    from ..device import configure

    configure(device, setup.deterministic, setup.threads)
    return place_data(data, device, setup.copies)


@contextlib.contextmanager
def torch_threads(n: Optional[int]):
    """Run with ``n`` torch threads, then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    import torch

    from ..device import resolve_precision
    from ..training import DivergedError, TrainingTimeout

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
                out.update(batch_size=s.batch_size, note=f"out of memory at batch size {tried[-1]}; retried at {s.batch_size}")
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
    from ..core.uncertainty import accuracy_fields
    from ..device import seed_everything
    from ..space.builder import build_network
    from ..space.genome import ArchSpec
    from ..training import fit

    from ..training import make_optimizer

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
    from ..core.uncertainty import accuracy_fields
    from ..device import derive_seed

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
    import torch

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


def candidate_cost(cand: Candidate) -> float:
    """How long a candidate will train, up to a constant: analytic MACs x epochs left (0 for a
    table lookup). Only the order matters: it sorts a batch longest first."""
    if cand.epochs is None or "genome" not in cand.arch:
        return 0.0
    from ..space.costs import network_cost
    from ..space.genome import ArchSpec

    first = int(cand.start["epoch"]) if isinstance(cand.start, dict) else 0
    return float(network_cost(ArchSpec.from_json(cand.arch)).macs) * max(cand.epochs - first, 1)


class Evaluator:
    """Base evaluator: holds the data and settings, runs candidates one after the other.

    Subclasses override :meth:`_run` to place the work elsewhere; :meth:`evaluate_batch` keeps
    the bookkeeping (order of results, the callback as each finishes). ``workdir`` is a folder
    of the run a backend may keep its own files in (Ray's session logs).
    """

    name = "base"

    def __init__(self, cfg, data, device, settings: Optional[TrainSettings] = None, workdir=None):
        self.cfg = cfg
        self.data = data
        self.device = device
        self.workdir = workdir
        self.settings = settings or TrainSettings.from_eval(cfg.evaluation, augment=cfg.data.augment)
        from ..device import derive_seed, resolve_precision

        resolve_precision(self.settings.precision, device)  # a precision the GPU lacks: say so now
        k = cfg.evaluation.folds
        self.folds = Folds(k, derive_seed(cfg.seed, "folds")) if k > 1 else None
        if self.folds is not None and data is not None:
            self.folds.check(data)

    @classmethod
    def check_config(cls, cfg, source: str = "config") -> None:
        """Checks of the config this backend needs (run before anything is trained)."""

    def setup(self, threads: int, copies: int = 1) -> WorkerSetup:
        e = self.cfg.evaluation
        return WorkerSetup(self.settings, threads, self.cfg.deterministic, e.timeout_s, copies, folds=self.folds)

    def cpu_share(self) -> int:
        """The cores one training process of this backend may use (torch threads at most that)."""
        from ..device import cpu_cores

        return cpu_cores()

    def threads(self) -> Tuple[int, Optional[str]]:
        """Torch threads per candidate, and a note when the config's ``threads`` was lowered."""
        from ..device import thread_plan

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
        from ..device import configure

        threads = self.threads()[0]
        configure(self.device, self.cfg.deterministic, threads)  # as a worker would (the search did it already)
        setup = self.setup(threads)
        for c in candidates:
            done(c, run_setup(c, self.data, setup, self.device))

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_evaluator(cfg, data, device, workdir=None) -> Evaluator:
    from . import EVALUATORS

    return EVALUATORS.get(cfg.evaluation.evaluator, key="evaluation.evaluator")(cfg, data, device, workdir=workdir)
