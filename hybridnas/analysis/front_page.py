"""The data of the interactive front page: a run's evaluations as one JSON-able dict.

:func:`page_data` reads a run once (through a :class:`Snapshot`, so that every part of the page
sees the same records even while a search appends to them) and returns what the page shows:

- ``points``: every evaluated network (the budget the front compares) with its id, genome,
  costs, accuracies with their standard errors, its place on the front (member, or member
  within noise of a cheaper one: :meth:`RunResults.front` marks those), the rules that picked
  it, the full training's accuracies when it was trained, and the library blocks it uses;
- ``limits`` and ``pick``: the positions of the page's sliders (max params, max FLOPs, min
  accuracy: the distinct values of the candidates ``hybridnas pick`` chooses among) and, for
  every combination of positions, the model ``hybridnas pick`` would choose under those limits
  with its default rule, computed by :func:`hybridnas.analysis.pick.pick` itself (``record=False``)
  - the page looks the answer up and never re-implements the rule;
- ``blocks``: the library's cell genotypes; the run's path, for the commands the page prints.

Drawing (plotly figures, the HTML) is :mod:`hybridnas.analysis.front_view`; nothing here writes.
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import UserError
from ..results import RunResults
from ..store.layout import BLOCKS

PICK_RULE = "knee"  # what `hybridnas pick RUN --max-params ...` uses when no rule is named
LIMITS = ("max_params", "max_flops", "min_acc")  # the page's sliders, as pick() names them
FIELD = {"max_params": "params", "max_flops": "flops", "min_acc": "val_acc"}
MAX_POSITIONS = 16  # slider positions per limit: the grid of precomputed picks has at most 17^3 cells
COLUMNS = ("val_acc", "params", "flops")  # what every record must have to be drawn


class Snapshot(RunResults):
    """A run read once: records, front, full trainings and picks are kept after the first read,
    so a page built while the search writes is consistent, and the pick grid reads no file."""

    def __init__(self, path):
        super().__init__(path)
        self._memo: Dict[Any, Any] = {}

    def _once(self, key, read):
        if key not in self._memo:
            self._memo[key] = read()
        return self._memo[key]

    def records(self, status: Optional[str] = "ok", budget: Any = "top") -> List[Dict[str, Any]]:
        read = lambda: super(Snapshot, self).records(status, budget)  # noqa: E731
        return [dict(r) for r in self._once(("records", status, budget), read)]

    def front(self) -> List[Dict[str, Any]]:
        return [dict(r) for r in self._once("front", super().front)]

    def trained(self) -> Dict[str, Dict[str, Any]]:
        return self._once("trained", super().trained)

    def picks(self) -> List[Dict[str, Any]]:
        return self._once("picks", super().picks)


def _positions(values: Sequence[float]) -> List[float]:
    """The distinct values, ascending; at most :data:`MAX_POSITIONS` of them (evenly spaced ranks,
    the smallest and the largest kept) so that the grid of picks stays small for a large front."""
    v = sorted(set(float(x) for x in values))
    if len(v) <= MAX_POSITIONS:
        return v
    step = (len(v) - 1) / (MAX_POSITIONS - 1)
    return [v[round(i * step)] for i in range(MAX_POSITIONS)]


def slider_limits(results: RunResults) -> Tuple[List[Dict[str, Any]], Dict[str, List[float]]]:
    """The models the sliders range over, and each slider's values.

    ``hybridnas pick`` chooses among the front when every limit names an objective, else among
    every evaluated model; the sliders stop at the distinct values of those candidates, since
    a limit between two of them admits the same models as the lower (for a maximum) one.
    """
    from .pick import LIMIT_FIELD

    objectives = set(results.config.objectives)
    on_objectives = all(set(LIMIT_FIELD[k][1]) & objectives for k in LIMITS)
    pool = results.front() if on_objectives else results.records()
    return pool, {k: _positions(r[FIELD[k]] for r in pool) for k in LIMITS}


def limits_at(positions: Dict[str, List[float]], i: int, j: int, k: int) -> Dict[str, Optional[float]]:
    """The limits at slider positions ``(i, j, k)``: a maximum's last position and the minimum's
    first are 'no limit' (None), as when ``hybridnas pick`` is given no flag."""
    p, f, a = positions["max_params"], positions["max_flops"], positions["min_acc"]
    return {"max_params": p[i] if i < len(p) else None, "max_flops": f[j] if j < len(f) else None,
            "min_acc": a[k - 1] if k > 0 else None}


def _meets(r: Dict[str, Any], limits: Dict[str, Optional[float]]) -> bool:
    for key in ("max_params", "max_flops"):
        if limits[key] is not None and r[FIELD[key]] > limits[key]:
            return False
    return limits["min_acc"] is None or r["val_acc"] >= limits["min_acc"]


def pick_grid(results: RunResults, pool: Sequence[Dict[str, Any]],
              positions: Dict[str, List[float]]) -> Dict[str, Any]:
    """For every combination of slider positions, the model ``hybridnas pick`` chooses (its
    default rule, the same limits), by calling :func:`~hybridnas.analysis.pick.pick`.

    Returns ``{"rule", "ids", "grid", "shape"}``: ``grid`` is flat, index ``(i * F + j) * A + k``
    for shape ``(P, F, A)``, each entry an index into ``ids`` or -1 where no model meets the
    limits. Limits that admit the same candidates give the same pick, so pick() runs once per
    distinct candidate set.
    """
    from .pick import LIMIT_FIELD, pick

    objectives = set(results.config.objectives)
    shape = (len(positions["max_params"]) + 1, len(positions["max_flops"]) + 1, len(positions["min_acc"]) + 1)
    ids: List[str] = []
    index: Dict[str, int] = {}
    answers: Dict[Any, int] = {}
    grid: List[int] = []
    for i in range(shape[0]):
        for j in range(shape[1]):
            for k in range(shape[2]):
                limits = limits_at(positions, i, j, k)
                off = frozenset(n for n, v in limits.items()
                                if v is not None and not set(LIMIT_FIELD[n][1]) & objectives)
                key = (frozenset(r["arch_id"] for r in pool if _meets(r, limits)), off)
                if key not in answers:
                    if not key[0]:
                        answers[key] = -1
                    else:
                        try:
                            aid = pick(results, rule=PICK_RULE, record=False, **limits)[0]["arch_id"]
                        except UserError:
                            answers[key] = -1
                        else:
                            answers[key] = index.setdefault(aid, len(index))
                            if answers[key] == len(ids):
                                ids.append(aid)
                grid.append(answers[key])
    return {"rule": PICK_RULE, "ids": ids, "grid": grid, "shape": list(shape), "distinct": len(answers)}


def _blocks_of(genome: str) -> List[int]:
    from ..space.genome import Genome

    try:
        return sorted({st.block for st in Genome.parse(genome).stages})
    except Exception:  # a table's genome is not a network genome
        return []


def _picked(results: RunResults) -> Dict[str, List[str]]:
    from .pick import pick_labels

    return pick_labels(results.picks())


def run_label(results: RunResults) -> str:
    """The run's path as a command line should name it: relative to the working folder when
    inside it, else absolute."""
    root = os.path.abspath(results.root)
    rel = os.path.relpath(root)
    return rel if not rel.startswith("..") else root


def page_data(results: RunResults, run: Optional[str] = None) -> Dict[str, Any]:
    """Everything the page shows of a run, JSON-able (see the module's docstring). ``run`` is
    the path the printed commands name (default :func:`run_label`)."""
    from ..core.uncertainty import NOISE_MARK

    if not isinstance(results, Snapshot):
        results = Snapshot(results.store)
    cfg = results.config
    recs = results.records()
    missing = sorted({c for r in recs for c in COLUMNS if r.get(c) is None})
    if missing:
        raise UserError(f"the records of run '{results.root}' have no {', '.join(missing)}, which the interactive "
                        "front needs (a table without these columns); use 'hybridnas plot' for what it can draw")
    front = {r["arch_id"]: r for r in results.front()}
    trained = {} if cfg.tabular else results.trained()
    picked = _picked(results)
    latency = bool(recs) and all(r.get("latency") is not None for r in recs)
    points = []
    for r in sorted(recs, key=lambda r: (r["params"], -r["val_acc"], r["arch_id"])):
        aid = r["arch_id"]
        t = trained.get(aid)
        points.append({
            "id": aid, "genome": r["genome"], "params": r["params"], "flops": r["flops"], "macs": r.get("macs"),
            "latency": r.get("latency") if latency else None,
            "val_acc": r["val_acc"], "val_se": r.get("val_acc_se"),
            "test_acc": r.get("test_acc"), "test_se": r.get("test_acc_se"),
            "generation": r.get("generation"), "front": aid in front,
            "noise_of": front[aid].get(NOISE_MARK) if aid in front else None,
            "picked": picked.get(aid, []),
            "full": None if t is None else {"val_acc": t.get("val_acc"), "test_acc": t.get("test_acc"),
                                            "epochs": t.get("epochs")},
            "blocks": [] if cfg.tabular else _blocks_of(r["genome"]),
        })
    run = run if run is not None else run_label(results)
    data: Dict[str, Any] = {
        "name": results.root.name, "run": run, "run_arg": shlex.quote(run), "tabular": bool(cfg.tabular),
        "objectives": list(cfg.objectives), "latency": latency, "points": points,
        "front_size": len(front), "epochs": None if cfg.tabular else cfg.evaluation.epochs,
        "blocks": [], "limits": {k: [] for k in LIMITS}, "pick": None,
    }
    if not cfg.tabular and results.store.exists(BLOCKS):
        data["blocks"] = [{"normal": str(e.genotype.normal), "reduce": str(e.genotype.reduce)} for e in results.library]
    if front:
        pool, positions = slider_limits(results)
        data["limits"] = positions
        data["pick"] = pick_grid(results, pool, positions)
    return data
