"""Choosing models from the front: rules, hard limits, and a clear answer when nothing fits.

Hard limits (``max_params``, ``max_flops``, ``max_latency`` in ms, ``min_acc``) come first. When
each names an objective of the run, they filter the front: a model off the front is dominated by
a front member that is at least as good in every objective, so it meets the limits too and
filtering the front loses nothing. A limit on a quantity that is *not* an objective - latency
measured only for a constraint - is different: the front ignores it, and a dominated but faster
model could never be picked. Then the candidates are every evaluated model that meets the limits,
reduced to those no other such model dominates (the front under the limits), and a pick may be a
model off the run's front (``on_front: false`` in its record). The rules then rank the
candidates, in the objective space where costs are on a log scale (error, log10 params, log10
FLOPs, log10 latency), normalised over the candidates:

- ``knee``: the point farthest below the plane through the normalised extremes (Das 1999;
  Deb's knee), then the knee of what is left, and so on;
- ``max-acc``: the most accurate (ties: fewer parameters);
- ``asf``: closest to an aspiration point (``prefer={"acc": 0.98, "flops": 2e6}``) by
  Wierzbicki's achievement scalarising function, ``pymoo.decomposition.asf.ASF``, over the
  objectives the preference names; the others only break ties;
- ``pseudo-weights``: closest to a weighting of the objectives
  (``weights={"acc": 0.6, "params": 0.4}``) by Deb's pseudo-weights,
  ``pymoo.mcdm.pseudo_weights.PseudoWeights``;
- ``high-tradeoff``: the points pymoo's ``HighTradeoffPoints`` flags (where a small gain in one
  objective costs a large loss in others; Rachmawati & Srinivasan 2009), then the knee order.

A limit the rule's choice over the whole front already meets does not change it: the rules
normalise over their candidates, so ranking only the models under a limit would move a knee (or
an ASF optimum) although the model chosen without the limit still meets it. The rule therefore
ranks the whole front first; if its first model meets the limits it stays the pick (the others
keep that order, minus what breaks a limit). Only when it breaks a limit does the rule rank the
models that meet them, and the pick says so (``pick["limited"]``: the unconstrained choice and
what it misses; also in ``picks.json``).

Each call records one pick in ``picks.json``: the model ranked first (``arch_ids``); with
``n > 1`` the runners-up are kept beside it (``listed``) but are not picks, so figures and the
report ring only the chosen model.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ..core.moo import knee_index
from ..core.objectives import ERROR, error, error_of_accuracy, maximized, pareto_front
from ..errors import UserError
from ..results import RunResults
from ..store.layout import PICKS

RULES = ("knee", "max-acc", "asf", "pseudo-weights", "high-tradeoff")

# What a preference or weight may name -> the run objective it stands for (acc and error are one).
OBJECTIVE_OF = {"acc": "error", "error": "error", "params": "params", "flops": "flops", "macs": "macs",
                "latency": "latency"}
LATENCY = "latency"  # record field of measured latency, milliseconds (the 'latency' objective)
# hard limit -> (record field, the objectives that order models by it)
LIMIT_FIELD = {"max_params": ("params", ("params",)), "max_flops": ("flops", ("flops", "macs")),
               "max_latency": (LATENCY, ("latency",)), "min_acc": ("val_acc", ("error",))}

Targets = Union[str, Mapping[str, float], None]


def check_fraction(what: str, value: float) -> None:
    """Accuracy is a fraction: 0.98, not 98 (NaN fails the comparison too)."""
    if not 0 <= value <= 1:
        raise UserError(f"{what} must be a fraction in [0, 1]; give e.g. 0.98 for 98 %")


def parse_targets(text: Targets, what: str) -> Dict[str, float]:
    """``"acc=0.98,flops=2e6"`` (or a mapping) -> ``{"acc": 0.98, "flops": 2e6}``, checked: each key
    once, values finite and >= 0, accuracies fractions, weights not all zero."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        items = [(str(k), v) for k, v in text.items()]
    else:
        items = []
        for part in str(text).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise UserError(f"{what} '{part.strip()}' is not key=value; write e.g. acc=0.98,flops=2e6")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    out: Dict[str, float] = {}
    for k, v in items:
        if k not in OBJECTIVE_OF:
            raise UserError(f"{what} names '{k}', which is not an objective; use {', '.join(OBJECTIVE_OF)}")
        if k in out:
            raise UserError(f"{what} names {k} twice; give each objective once")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise UserError(f"{what} {k}={v} is not a number; write e.g. {k}=0.5") from None
        if not np.isfinite(out[k]) or out[k] < 0:
            raise UserError(f"{what} {k}={v} must be a finite number >= 0; write e.g. {k}=0.5")
    if "acc" in out and "error" in out:
        raise UserError(f"{what} names both acc and error, which are one objective; give one")
    for k in ("acc", "error"):
        if what == "--prefer" and k in out:
            check_fraction(f"--prefer {k}={out[k]:g}", out[k])
    if not out:
        raise UserError(f"{what} is empty; write e.g. acc=0.98,flops=2e6")
    if what == "--weights" and not any(out.values()):
        raise UserError("--weights are all zero; give at least one a weight > 0, e.g. acc=0.6,params=0.4")
    return out


def _limits_text(limits: Dict[str, Optional[float]]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in limits.items() if v is not None)


def _miss(r: Dict[str, Any], limits: Dict[str, Optional[float]]) -> float:
    """How far a model is from meeting the limits: the largest relative miss."""
    miss = 0.0
    for key in ("max_params", "max_flops", "max_latency"):
        field = LIMIT_FIELD[key][0]
        if limits.get(key) is not None:
            miss = max(miss, r[field] / limits[key] - 1.0)
    if limits.get("min_acc") is not None:
        miss = max(miss, (limits["min_acc"] - r["val_acc"]) / max(limits["min_acc"], 1e-9))
    return miss


def _objective_matrix(records: Sequence[Dict[str, Any]], names: Sequence[str]) -> np.ndarray:
    """Minimised objective values: error linear, costs log10."""
    cols = []
    for name in names:
        if name == ERROR:
            cols.append([error(r) for r in records])
        else:
            cols.append([np.log10(max(float(r[name]), 1e-12)) for r in records])
    return np.array(cols, dtype=float).T.reshape(len(records), len(names))


def _transform(key: str, value: float) -> float:
    """A preference value in the space the rules rank in (error linear, costs log10)."""
    if key == "acc":
        return error_of_accuracy(value)
    if key == ERROR:
        return value
    return float(np.log10(max(value, 1e-12)))


def _normalise(F: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = F.min(0), F.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (F - lo) / span, lo, span


def _knee_order(F: np.ndarray) -> List[int]:
    order, remaining = [], list(range(len(F)))
    while remaining:  # the knee, then the knee of what is left, ...
        k = remaining[knee_index(F[remaining])]
        order.append(k)
        remaining.remove(k)
    return order


def _rank_asf(F: np.ndarray, names: Sequence[str], prefer: Dict[str, float]) -> Tuple[List[int], np.ndarray]:
    """Rank by the ASF over the objectives the preference names (normalised, equal weights);
    the objectives it leaves out only break ties (sum of all normalised objectives)."""
    from pymoo.decomposition.asf import ASF

    N, lo, span = _normalise(F)
    cols = [names.index(OBJECTIVE_OF[k]) for k in prefer]
    z = np.array([(_transform(k, v) - lo[j]) / span[j] for (k, v), j in zip(prefer.items(), cols)])
    scores = np.asarray(ASF().do(N[:, cols], np.ones(len(cols)), utopian_point=z), dtype=float).reshape(-1)
    order = np.lexsort((N.sum(1), np.round(scores, 12)))
    return [int(i) for i in order], scores


def _rank_pseudo_weights(F: np.ndarray, names: Sequence[str],
                         weights: Dict[str, float]) -> Tuple[List[int], np.ndarray, np.ndarray]:
    from pymoo.mcdm.pseudo_weights import PseudoWeights

    w = np.zeros(len(names))
    for key, value in weights.items():
        w[names.index(OBJECTIVE_OF[key])] = value
    varies = F.max(0) > F.min(0)  # an objective equal for all candidates has no pseudo-weight
    if not varies.any() or w[varies].max() <= 0:
        return list(range(len(F))), np.zeros(len(F)), np.zeros_like(F)
    w = w[varies] / w[varies].max()  # first by the largest, so that huge weights cannot overflow the sum
    w = w / w.sum()
    _, pw = PseudoWeights(w).do(F[:, varies], return_pseudo_weights=True)
    dist = np.abs(pw - w).sum(1)
    full = np.zeros_like(F)
    full[:, varies] = pw
    order = np.lexsort((F.sum(1), dist))
    return [int(i) for i in order], dist, full


def _rank_high_tradeoff(F: np.ndarray) -> Tuple[List[int], List[int]]:
    """Flagged high trade-off points first (in knee order), then the rest in knee order."""
    from pymoo.mcdm.high_tradeoff import HighTradeoffPoints

    knee = _knee_order(F)
    N, _, _ = _normalise(F)
    uniq, inverse = np.unique(np.round(N, 12), axis=0, return_inverse=True)
    flagged: List[int] = []
    if len(uniq) >= 3:  # needs neighbours to measure trade-offs against
        hits = HighTradeoffPoints().do(uniq)
        if hits is not None:
            hit_rows = set(int(h) for h in np.atleast_1d(hits))
            flagged = [i for i in knee if int(inverse.reshape(-1)[i]) in hit_rows]
    return flagged + [i for i in knee if i not in flagged], flagged


def _rank(rule: str, records: Sequence[Dict[str, Any]], names: Sequence[str], prefer_d, weights_d):
    """The rule's order of ``records`` (indices, best first) and each one's score."""
    F = _objective_matrix(records, names)
    scores: Dict[int, Dict[str, Any]] = {}
    if rule == "max-acc":
        order = sorted(range(len(records)), key=lambda i: (-records[i]["val_acc"], records[i]["params"]))
    elif rule == "knee":
        order = _knee_order(F)
    elif rule == "asf":
        order, s = _rank_asf(F, names, prefer_d)
        scores = {i: {"asf": float(s[i])} for i in range(len(records))}
    elif rule == "pseudo-weights":
        order, dist, pw = _rank_pseudo_weights(F, names, weights_d)
        scores = {i: {"distance": float(dist[i]), "pseudo_weights": dict(zip(names, map(float, pw[i])))}
                  for i in range(len(records))}
    else:
        order, flagged = _rank_high_tradeoff(F)
        scores = {i: {"high_tradeoff": i in flagged} for i in range(len(records))}
    return order, scores


def _misses_text(r: Dict[str, Any], limits: Dict[str, Optional[float]]) -> str:
    """Which limits a model breaks: ``params 6,120 > 5,000``."""
    out = []
    for key in ("max_params", "max_flops", "max_latency"):
        field = LIMIT_FIELD[key][0]
        if limits.get(key) is not None and r[field] > limits[key]:
            out.append(f"{field} {r[field]:,.6g} > {limits[key]:,.6g}")
    if limits.get("min_acc") is not None and r["val_acc"] < limits["min_acc"]:
        out.append(f"val_acc {r['val_acc']:.4f} < {limits['min_acc']:g}")
    return ", ".join(out)


def pick(
    run,
    rule: Optional[str] = None,
    n: int = 1,
    max_params: Optional[float] = None,
    max_flops: Optional[float] = None,
    min_acc: Optional[float] = None,
    max_latency: Optional[float] = None,
    prefer: Targets = None,
    weights: Targets = None,
    record: bool = True,
) -> List[Dict[str, Any]]:
    """Pick ``n`` models of a run's front; returns their records, best first.

    ``rule`` defaults to ``asf`` with ``prefer``, ``pseudo-weights`` with ``weights``, else
    ``knee``. Each returned record carries ``pick`` (rule, rank, and the rule's score).
    """
    results = run if isinstance(run, RunResults) else RunResults(run)
    prefer_d = parse_targets(prefer, "--prefer")
    weights_d = parse_targets(weights, "--weights")
    if rule is None:
        rule = "asf" if prefer_d else "pseudo-weights" if weights_d else "knee"
    if rule not in RULES:
        raise UserError(f"unknown pick rule '{rule}'; choose one of: {', '.join(RULES)}")
    if rule == "asf" and not prefer_d:
        raise UserError("rule asf needs an aspiration point; give e.g. --prefer acc=0.98,flops=2e6")
    if rule == "pseudo-weights" and not weights_d:
        raise UserError("rule pseudo-weights needs weights; give e.g. --weights acc=0.6,params=0.2,flops=0.2")
    if prefer_d and rule != "asf":
        raise UserError(f"--prefer goes with --rule asf, not {rule}; drop one of them")
    if weights_d and rule != "pseudo-weights":
        raise UserError(f"--weights goes with --rule pseudo-weights, not {rule}; drop one of them")
    if n < 1:
        raise UserError(f"-n must be at least 1, got {n}; give the number of models to pick, e.g. -n 3")
    limits = {"max_params": max_params, "max_flops": max_flops, "max_latency": max_latency, "min_acc": min_acc}
    for key in ("max_params", "max_flops", "max_latency"):
        if limits[key] is not None and not (np.isfinite(limits[key]) and limits[key] >= 0):
            flag = "--" + key.replace("_", "-")
            raise UserError(f"{flag} {limits[key]:g} must be a finite number >= 0; give e.g. {flag} 1e6")
    if min_acc is not None:
        check_fraction(f"--min-acc {min_acc:g}", min_acc)
    front = results.front()
    if not front:
        raise results.empty_front()
    objectives = list(results.config.objectives)
    off_objective = [k for k, v in limits.items() if v is not None and not set(LIMIT_FIELD[k][1]) & set(objectives)]
    pool = results.records() if off_objective else front
    where = "evaluated model" if off_objective else "model on the front"
    named = set(prefer_d) | set(weights_d)
    if max_latency is not None or "latency" in named:
        missing = sum(1 for r in pool if r.get(LATENCY) is None)
        if missing:
            flag = "--max-latency" if max_latency is not None else "a latency preference"
            raise UserError(
                f"{flag} needs measured latency, but {missing} of {len(pool)} {where}s of run '{results.root}' "
                "have none; add 'latency' to the space's objectives (or constrain it) and search again, or leave "
                "latency out"
            )
    meets = [r for r in pool if _miss(r, limits) <= 0]
    if not meets:
        near = sorted(pool, key=lambda r: _miss(r, limits))[:3]
        desc = "; ".join(
            f"{r['arch_id']} ({r['params']:,} params, {r['flops']:,} FLOPs, "
            + (f"{r[LATENCY]:.3g} ms, " if limits["max_latency"] is not None else "")
            + f"acc {r['val_acc']:.4f}, misses by {100 * _miss(r, limits):.0f}%)"
            for r in near
        )
        raise UserError(f"no {where} meets {_limits_text(limits)}; nearest: {desc}; relax the limits")
    # the front under the limits (for limits on objectives: the front, filtered)
    ok = pareto_front(meets, objectives, maximized(results.config)) if off_objective else meets
    on_front = {r["arch_id"] for r in front}

    names = [o for o in results.config.objectives if o != "latency" or all(r.get(LATENCY) is not None for r in ok)]
    names += [OBJECTIVE_OF[k] for k in sorted(named) if OBJECTIVE_OF[k] not in names]
    order, scores = _rank(rule, ok, names, prefer_d, weights_d)
    limited: Dict[str, Any] = {}
    if any(v is not None for v in limits.values()):
        # the rule over the whole front first: a limit its choice already meets must not change the
        # choice (normalising over fewer candidates moves a knee or an ASF optimum)
        free_names = [o for o in names if o != "latency" or all(r.get(LATENCY) is not None for r in front)]
        free_order, free_scores = _rank(rule, front, free_names, prefer_d, weights_d)
        first = front[free_order[0]]
        if _miss(first, limits) <= 0:
            pos = {r["arch_id"]: i for i, r in enumerate(ok)}
            kept = [pos[front[i]["arch_id"]] for i in free_order if front[i]["arch_id"] in pos]
            order = kept + [i for i in order if i not in set(kept)]
            scores = {pos[front[i]["arch_id"]]: free_scores.get(i, {}) for i in free_order
                      if front[i]["arch_id"] in pos}
        else:
            limited = {"unconstrained": first["arch_id"], "misses": _misses_text(first, limits)}
    chosen = [{**ok[i], "on_front": ok[i]["arch_id"] in on_front,
               "pick": {"rule": rule, "rank": k + 1, **scores.get(i, {}), **({"limited": limited} if limited else {})}}
              for k, i in enumerate(order[:n])]
    if record:
        entry: Dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "rule": rule,
            "limits": {k: v for k, v in limits.items() if v is not None},
            "arch_ids": [chosen[0]["arch_id"]],  # the pick; runners-up are listed, not picked
        }
        if len(chosen) > 1:
            entry["listed"] = [r["arch_id"] for r in chosen]
        if off_objective:
            entry["candidates"] = "every evaluated model meeting the limits (a limit names a non-objective)"
        if limited:
            entry["limited"] = limited
        if prefer_d:
            entry["prefer"] = prefer_d
        if weights_d:
            entry["weights"] = weights_d
        # the same pick made again (same rule, limits and preferences, same model; -n aside) moves to
        # the end with its new time and list instead of repeating
        key = lambda p: {k: v for k, v in p.items() if k not in ("time", "listed")}  # noqa: E731
        same = lambda p: key(p) == key(entry)  # noqa: E731
        with results.store.holding(then="pick again"):  # one writer: a search records its knee pick too
            results.store.write_json(PICKS, {"picks": [p for p in results.picks() if not same(p)] + [entry]})
    return chosen


def pick_labels(picks: List[Dict[str, Any]]) -> Dict[str, List[str]]:
    """arch id -> the labels of the recorded picks that chose it, in order: the rule, with
    "under limits" where the limits changed the rule's choice (``picks.json``'s ``limited``), so a
    knee of the whole front and a knee among the models meeting a limit are told apart."""
    out: Dict[str, List[str]] = {}
    for p in picks:
        label = p.get("rule", "?") + (" under limits" if p.get("limited") else "")
        for a in p.get("arch_ids", []):
            if label not in out.setdefault(a, []):
                out[a].append(label)
    return out
