"""The objectives of a run, one owner for each: which are maximised, the error, the costs, the
front over them and the hypervolume reference that measures it.

Every objective is *minimised* inside hybridnas: the error is ``1 - val_acc``
(:func:`error`), a cost (:data:`COSTS`) is used as it is, and a column a tabular space maximises
(``table.maximize``, :func:`maximized`) is negated (:func:`objective_value`). The front
(:func:`pareto_front`) and its hypervolume (:func:`front_hypervolume`, normalised by a run's
``hv_reference.json``, built by :func:`hv_reference`) compare records of one budget, the top one
(:func:`top_budget`).

Layer 0: the run config is read through the few fields named by :class:`RunFields`, never imported.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from .moo import hypervolume, non_dominated, normalise

ERROR = "error"
# Costs: known before any evaluation in a network space (analytic, or the latency table), on a log
# scale in the hypervolume, and the cost columns of a table. An objective is one of these or the error.
COSTS = ("params", "macs", "flops", "latency")
REF_POINT = 1.1  # the hypervolume's reference point in each normalised objective


class RunFields(Protocol):
    """What is read here of a :class:`~hybridnas.config.RunConfig`."""

    @property
    def tabular(self) -> bool: ...

    table: Any  # TableConfig or None: ``maximize``
    evaluation: Any  # EvaluationConfig: ``epochs``


def maximized(cfg: RunFields) -> Tuple[str, ...]:
    """The objectives a run maximises: a tabular space's ``table.maximize`` (none for networks)."""
    return tuple(cfg.table.maximize) if cfg.tabular and cfg.table is not None else ()


def top_budget(cfg: RunFields) -> Optional[int]:
    """The budget the front and every reader compare (None: a table lookup)."""
    return None if cfg.tabular else cfg.evaluation.epochs


def error_of_accuracy(acc: float) -> float:
    """The error of an accuracy: ``1 - acc``."""
    return 1.0 - float(acc)


def error(record: Dict[str, Any]) -> float:
    """A record's error: ``1 - val_acc`` (1 for a failed candidate; a table's ``error`` column
    when it has no accuracy)."""
    if record.get("status") != "ok":
        return 1.0
    return error_of_accuracy(record["val_acc"]) if "val_acc" in record else float(record[ERROR])


def objective_value(record: Dict[str, Any], name: str, maximize: Sequence[str] = ()) -> float:
    """One objective of a record, as minimised: the :func:`error`; columns listed in ``maximize``
    (tabular spaces) are negated."""
    if name == ERROR:
        return error(record)
    v = float(record[name])
    return -v if name in maximize else v


def cost_objectives(objectives: Sequence[str], maximize: Sequence[str] = ()) -> List[str]:
    """The objectives that are minimised costs: all but the error and the maximised columns."""
    return [o for o in objectives if o != ERROR and o not in maximize]


def hv_reference(objectives: Sequence[str], maximize: Sequence[str], lower: List[float], upper: List[float],
                 log_scale: List[bool], note: str, ref_point: Optional[List[float]] = None) -> Dict[str, Any]:
    """The content of ``hv_reference.json``: each objective normalised to [0, 1] between ``lower``
    and ``upper`` (log10 where ``log_scale``), the hypervolume taken against ``ref_point``
    (:data:`REF_POINT` in each objective unless given)."""
    return {
        "objectives": list(objectives),
        "maximize": list(maximize),
        "lower": lower,
        "upper": upper,
        "log_scale": log_scale,
        "ref_point": [REF_POINT] * len(lower) if ref_point is None else ref_point,
        "note": note,
    }


def pareto_front(records: List[Dict[str, Any]], objectives: Sequence[str],
                 maximize: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """Non-dominated records (one per arch id), sorted by parameters (or the first cost objective)."""
    if not records:
        return []
    F = np.array([[objective_value(r, o, maximize) for o in objectives] for r in records])
    mask = non_dominated(F)
    front = [r for r, m in zip(records, mask) if m]
    key = "params" if all("params" in r for r in front) else objectives[-1]
    front.sort(key=lambda r: (objective_value(r, key, maximize), -r.get("val_acc", 0), r["arch_id"]))
    return front


def front_hypervolume(front: List[Dict[str, Any]], reference: Dict[str, Any]) -> float:
    """Hypervolume of records normalised with a run's ``hv_reference.json``."""
    if not front:
        return 0.0
    maximize = reference.get("maximize", ())
    F = np.array([[objective_value(r, o, maximize) for o in reference["objectives"]] for r in front])
    N = np.clip(normalise(F, reference["lower"], reference["upper"], reference["log_scale"]), 0.0, None)
    return hypervolume(N, reference["ref_point"])
