"""The numbers the trackers (:mod:`~hybridnas.integrations.tensorboard`, :mod:`~hybridnas.integrations.mlflow`)
log: per generation and per evaluation."""

from __future__ import annotations

from typing import Any, Dict, List


def front_metrics(run, summary: Dict[str, Any]) -> Dict[str, float]:
    """The numbers both trackers log per generation: front size, hypervolume, networks evaluated,
    and the best validation accuracy on the front with the params of that member (when the run
    has accuracies and params: a table may have neither)."""
    out: Dict[str, float] = {
        "front_size": float(len(summary.get("front", []))),
        "hypervolume": float(summary.get("hypervolume", 0.0)),
        "evaluated": float(summary.get("evaluated", 0)),
    }
    front: List[Dict[str, Any]] = [r for r in run.front if r.get("val_acc") is not None]
    if front:
        best = max(front, key=lambda r: (r["val_acc"], -r.get("params", 0)))
        out["best_val_acc"] = float(best["val_acc"])
        if best.get("params") is not None:
            out["params_of_best"] = float(best["params"])
    return out


def evaluation_metrics(run, record: Dict[str, Any]) -> Dict[str, float]:
    """One evaluation's numbers: validation accuracy and the run's objectives that it has."""
    if record.get("status") != "ok":
        return {}
    out: Dict[str, float] = {}
    for key in ["val_acc", *run.config.objectives]:
        v = record.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out
