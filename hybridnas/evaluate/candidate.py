"""A candidate - one network to train for one budget - and the records of failed ones.

Candidates carry their own seed (:func:`make_candidate`: derived from the run seed and the arch
id), so a candidate's result does not depend on which worker runs it or in which order.

Multi-fidelity (:mod:`hybridnas.network.fidelity`) adds three fields: ``schedule`` (the length of
the learning-rate schedule when it differs from ``epochs``), ``start`` (a state to continue
from: model and optimizer state after ``start["epoch"]`` epochs of the same schedule) and
``checkpoint`` (return such a state, so a longer budget can continue from this one).

Failures are data, not crashes: a candidate whose loss diverges, that runs out of memory twice
(the second time at half the batch), that runs past ``evaluation.timeout_s``, or whose worker
died more often than the backend retries comes back as ``status: failed`` with a ``failure``
kind (one of :data:`FAILURES`) and a ``reason``; the search records it and goes on. Any other
exception is a bug and propagates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Optional

from ..device import derive_seed
from ..space.costs import network_cost
from ..space.genome import ArchSpec


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


def make_candidate(run_seed: int, arch_id: str, arch: Dict[str, Any], epochs: Optional[int],
                   **fidelity_fields) -> Candidate:
    """A candidate with its own seed (from the run seed and its id): the same wherever it runs."""
    return Candidate(arch_id, arch, epochs, derive_seed(run_seed, "candidate", arch_id), **fidelity_fields)


def candidate_cost(cand: Candidate) -> float:
    """How long a candidate will train, up to a constant: analytic MACs x epochs left (0 for a
    table lookup). Only the order matters: it sorts a batch longest first."""
    if cand.epochs is None or "genome" not in cand.arch:
        return 0.0
    first = int(cand.start["epoch"]) if isinstance(cand.start, dict) else 0
    return float(network_cost(ArchSpec.from_json(cand.arch)).macs) * max(cand.epochs - first, 1)


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
