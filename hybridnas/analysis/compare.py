"""Comparing finished runs: their fronts overlaid in one figure, and a table of hypervolumes.

Each run normalises its hypervolume with its own ``hv_reference.json`` (fixed bounds per
objective), so two runs' own numbers do not compare. :func:`common_reference` takes the widest
bounds of the runs' references - each objective's smallest lower and largest upper bound, the
same log scales and reference point - and every front's hypervolume is measured against it with
:func:`~hybridnas.core.objectives.front_hypervolume`, the function the search's own history uses.
Runs must share their objectives (and which are maximised); otherwise there is no common
reference and :func:`compare` refuses them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..core.objectives import hv_reference
from ..errors import UserError
from ..results import RunResults
from ..store.layout import DATASET, HV_REFERENCE

COLUMNS = ("run", "path", "dataset", "objectives", "evaluated", "front_size", "hypervolume", "best_val_acc",
           "best_test_acc", "best_arch_id", "min_params", "max_params", "min_flops", "max_flops")


def _reference(results: RunResults) -> Dict[str, Any]:
    if not results.store.exists(HV_REFERENCE):
        raise UserError(f"run '{results.root}' has no hv_reference.json (its network stage has not started); "
                        "let its search run, then compare")
    return results.store.read_json(HV_REFERENCE)


def common_reference(refs: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The widest bounds of runs' ``hv_reference.json`` (same objectives required)."""
    first = refs[0]
    lower = [min(r["lower"][j] for r in refs) for j in range(len(first["lower"]))]
    upper = [max(r["upper"][j] for r in refs) for j in range(len(first["upper"]))]
    log = [all(r["log_scale"][j] for r in refs) for j in range(len(first["log_scale"]))]
    ref_point = [max(r["ref_point"][j] for r in refs) for j in range(len(first["ref_point"]))]
    return hv_reference(first["objectives"], first.get("maximize", []), lower, upper, log,
                        "the widest bounds of the compared runs' hv_reference.json: each objective's smallest lower "
                        "and largest upper bound (log10 for costs); HV against ref_point", ref_point)


def _labels(runs: Sequence[RunResults]) -> List[str]:
    """Each run's folder name, or more of its path where two names are the same."""
    names = [r.root.name for r in runs]
    if len(set(names)) == len(names):
        return names
    return [str(r.root) for r in runs]


def compare(runs: Sequence, out: Optional[Path] = None, formats: Sequence[str] = ("png",)) -> Dict[str, Any]:
    """Compare runs; returns ``{"reference", "runs": [row per run], "files"}``. With ``out`` (a
    folder), writes ``compare.csv``, ``compare.json`` and the figure ``compare.<fmt>`` there."""
    from ..core.objectives import front_hypervolume, maximized

    if len(runs) < 2:
        raise UserError("compare needs at least two runs; give e.g. hybridnas compare runs/digits runs/digits-2")
    results = [r if isinstance(r, RunResults) else RunResults(r) for r in runs]
    first = results[0]
    for r in results[1:]:
        a = (list(first.config.objectives), sorted(maximized(first.config)))
        b = (list(r.config.objectives), sorted(maximized(r.config)))
        if a != b:
            raise UserError(f"runs '{first.root}' and '{r.root}' have different objectives ({', '.join(a[0])} "
                            f"against {', '.join(b[0])}): their fronts have no common hypervolume; compare runs "
                            "searched with the same objectives")
    reference = common_reference([_reference(r) for r in results])
    labels = _labels(results)
    rows, fronts = [], []
    for label, r in zip(labels, results):
        front = r.front()
        fronts.append(front)
        row: Dict[str, Any] = {"run": label, "path": str(r.root),
                               "dataset": r.dataset.get("name") if r.store.exists(DATASET) else None,
                               "objectives": " ".join(r.config.objectives), "evaluated": len(r.records()),
                               "front_size": len(front), "hypervolume": front_hypervolume(front, reference)}
        if front and all("val_acc" in m for m in front):
            best = max(front, key=lambda m: m["val_acc"])
            row.update(best_val_acc=best["val_acc"], best_test_acc=best.get("test_acc"), best_arch_id=best["arch_id"])
        for key in ("params", "flops"):
            if front and all(m.get(key) is not None for m in front):
                row.update({f"min_{key}": min(m[key] for m in front), f"max_{key}": max(m[key] for m in front)})
        rows.append(row)
    notes = _notes(results)
    out_d: Dict[str, Any] = {"reference": reference, "runs": rows, "notes": notes, "files": {}}
    if out is not None:
        out_d["files"] = _write(Path(out), out_d, labels, results, fronts, formats)
    return out_d


def _notes(results: Sequence[RunResults]) -> List[str]:
    """What makes the comparison less than like for like: other data, other validation splits."""
    notes = []
    data = {(r.dataset.get("name"), tuple(r.dataset.get("image_size", ())))
            for r in results if r.store.exists(DATASET)}
    if len(data) > 1:
        notes.append("the runs searched different datasets or image sizes: their accuracies measure different tasks")
    vals = {r.split_sizes().get("val") for r in results}
    if len(vals) > 1:
        notes.append(f"validation splits differ in size ({', '.join(str(v) for v in sorted(vals, key=str))} images): "
                     "the accuracies carry different noise")
    return notes


def table_csv(rows: Sequence[Dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") if r.get(k) is not None else "" for k in COLUMNS})
    return buf.getvalue()


def _write(out: Path, result: Dict[str, Any], labels, results, fronts, formats) -> Dict[str, str]:
    from ..store import atomic_write, writing
    from ..store.run import dumps
    from .style import FORMATS, pyplot

    for fmt in formats:
        if fmt not in FORMATS:
            raise UserError(f"unknown plot format '{fmt}'; use {', '.join(FORMATS)}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}' is a file; give a folder")
    files = {}
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
        figure = fig_compare(labels, results, fronts, result["runs"])
        if figure is not None:
            for fmt in formats:
                buf = io.BytesIO()
                figure.savefig(buf, format=fmt, dpi=130, metadata={"Date": None} if fmt == "svg" else None)
                atomic_write(out / f"compare.{fmt}", buf.getvalue())
                files[f"compare.{fmt}"] = str(out / f"compare.{fmt}")
            pyplot().close(figure)
        atomic_write(out / "compare.csv", table_csv(result["runs"]).encode())
        files["compare.csv"] = str(out / "compare.csv")
        files["compare.json"] = str(out / "compare.json")
        atomic_write(out / "compare.json", (dumps({**result, "files": files}) + "\n").encode())
    return files


def fig_compare(labels, results, fronts, rows):
    """Accuracy against params and FLOPs: each run's evaluated models faint, its front drawn
    as a staircase with dots, one colour per run; ``None`` when the runs lack those columns."""
    from .plots import _staircase
    from .style import ACC_LABEL, FLOPS_LABEL, PARAMS_LABEL, THEMES, log_count_axis, pyplot, rc_params

    keys = [k for k, _ in (("params", PARAMS_LABEL), ("flops", FLOPS_LABEL))
            if all(m.get(k) is not None and "val_acc" in m for f in fronts for m in f) and any(fronts)]
    if not keys:
        return None
    plt = pyplot()
    t = THEMES["light"]
    colours = plt.get_cmap("tab10").colors
    axis_label = {"params": PARAMS_LABEL, "flops": FLOPS_LABEL}
    with plt.rc_context(rc_params(t)):
        fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 5.0), layout="constrained", squeeze=False)
        for ax, key in zip(axes[0], keys):
            for k, (label, r, front, row) in enumerate(zip(labels, results, fronts, rows)):
                c = colours[k % len(colours)]
                recs = [m for m in r.records() if m.get(key) is not None and "val_acc" in m]
                ax.scatter([m[key] for m in recs], [100 * m["val_acc"] for m in recs], s=10, color=c, alpha=0.25,
                           linewidths=0)
                xs, ys = _staircase(recs, key)
                ax.step(xs, ys, where="post", color=c, lw=1.6,
                        label=f"{label}: {len(front)} on the front, HV {row['hypervolume']:.3f}")
                ax.scatter([m[key] for m in front], [100 * m["val_acc"] for m in front], s=26, color=c,
                           edgecolors=t.bg, linewidths=0.6, zorder=3)
            ax.set_xscale("log")
            log_count_axis(ax.xaxis)
            ax.set_xlabel(axis_label[key])
            ax.set_ylabel(ACC_LABEL)
            ax.grid(True, which="major")
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncol=min(len(labels), 3))
        fig.suptitle(f"{len(labels)} runs: fronts overlaid (faint dots: every evaluated model; "
                     "HV on the runs' common reference)")
    return fig
