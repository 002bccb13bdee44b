"""Choosing models from the front: rules, hard limits, and a clear answer when nothing fits.

Rules: ``knee`` (the high trade-off point: farthest below the plane through the extremes of
the normalised front), ``max-acc`` (most accurate). Hard limits (``max_params``, ``max_flops``,
``min_acc``) filter the front first; a model off the front never beats the front member that
dominates it, so filtering the front loses nothing. Picks are recorded in ``picks.json``.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import UserError
from ..results import RunResults
from .pareto import knee_index

RULES = ("knee", "max-acc")


def _limits_text(limits: Dict[str, Optional[float]]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in limits.items() if v is not None)


def _miss(r: Dict[str, Any], limits: Dict[str, Optional[float]]) -> float:
    """How far a model is from meeting the limits: the largest relative miss."""
    miss = 0.0
    for key, field in (("max_params", "params"), ("max_flops", "flops")):
        if limits.get(key) is not None:
            miss = max(miss, r[field] / limits[key] - 1.0)
    if limits.get("min_acc") is not None:
        miss = max(miss, (limits["min_acc"] - r["val_acc"]) / max(limits["min_acc"], 1e-9))
    return miss


def _meets(r: Dict[str, Any], limits: Dict[str, Optional[float]]) -> bool:
    return _miss(r, limits) <= 0


def pick(
    run,
    rule: str = "knee",
    n: int = 1,
    max_params: Optional[float] = None,
    max_flops: Optional[float] = None,
    min_acc: Optional[float] = None,
    record: bool = True,
) -> List[Dict[str, Any]]:
    results = run if isinstance(run, RunResults) else RunResults(run)
    if rule not in RULES:
        raise UserError(f"unknown pick rule '{rule}'; choose one of: {', '.join(RULES)}")
    if n < 1:
        raise UserError(f"-n must be at least 1, got {n}")
    front = results.front()
    if not front:
        raise UserError(f"run '{results.root}' has no evaluated models yet; let the search run (or resume it) first")
    limits = {"max_params": max_params, "max_flops": max_flops, "min_acc": min_acc}
    ok = [r for r in front if _meets(r, limits)]
    if not ok:
        near = sorted(front, key=lambda r: _miss(r, limits))[:3]
        desc = "; ".join(
            f"{r['arch_id']} ({r['params']:,} params, {r['flops']:,} FLOPs, acc {r['val_acc']:.4f}, misses by {100 * _miss(r, limits):.0f}%)"
            for r in near
        )
        raise UserError(f"no model on the front meets {_limits_text(limits)}; nearest: {desc}; relax the limits")
    if rule == "max-acc":
        ranked = sorted(ok, key=lambda r: (-r["val_acc"], r["params"]))
    else:
        F = np.array([[1 - r["val_acc"], np.log10(r["params"]), np.log10(max(r["flops"], 1))] for r in ok])
        order = []
        remaining = list(range(len(ok)))
        while remaining:  # the knee, then the knee of what is left, ...
            k = remaining[knee_index(F[remaining])]
            order.append(k)
            remaining.remove(k)
        ranked = [ok[k] for k in order]
    chosen = ranked[:n]
    if record:
        picks = results.picks()
        picks.append(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "rule": rule,
                "limits": {k: v for k, v in limits.items() if v is not None},
                "arch_ids": [r["arch_id"] for r in chosen],
            }
        )
        results.store.write_json("picks.json", {"picks": picks})
    return chosen
