"""Trade-off plots of a run (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from ..errors import UserError
from ..results import RunResults


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_front(run, formats: Sequence[str] = ("png",)) -> List[Path]:
    """Accuracy against params and against FLOPs: every evaluated model, the front highlighted,
    picked models annotated. Written to ``plots/front.<fmt>``."""
    results = run if isinstance(run, RunResults) else RunResults(run)
    plt = _plt()
    recs = results.records()
    if not recs:
        raise UserError(f"run '{results.root}' has no successfully evaluated model to plot; see evaluations.jsonl")
    front = results.front()
    picked = {a for p in results.picks() for a in p["arch_ids"]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for ax, key, label in ((axes[0], "params", "parameters"), (axes[1], "flops", "FLOPs (2 x MACs)")):
        ax.scatter([r[key] for r in recs], [100 * r["val_acc"] for r in recs], s=14, c="#9aa5b1", alpha=0.6, label="evaluated")
        # the 2-D front of this projection as a staircase; the members of the full front as dots
        xs, ys = _staircase(recs, key)
        ax.step(xs, ys, where="post", c="#d9480f", lw=1.2, alpha=0.8, label=f"front in accuracy vs {key}")
        ax.scatter([r[key] for r in front], [100 * r["val_acc"] for r in front], s=30, c="#d9480f", zorder=3,
                   label="Pareto front (all objectives)")
        for r in front:
            if r["arch_id"] in picked:
                ax.annotate(r["arch_id"][:6], (r[key], 100 * r["val_acc"]), textcoords="offset points", xytext=(5, -10), fontsize=8)
                ax.scatter([r[key]], [100 * r["val_acc"]], s=80, facecolors="none", edgecolors="#1864ab", lw=1.5)
        ax.set_xscale("log")
        ax.set_xlabel(f"{label} (log scale)")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{results.root.name}: {len(recs)} evaluated, {len(front)} on the front")
    out = []
    for fmt in formats:
        p = results.store.path(f"plots/front.{fmt}")
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp")
        fig.savefig(tmp, format=fmt, dpi=130)
        tmp.replace(p)
        out.append(p)
    plt.close(fig)
    return out


def _staircase(recs, key):
    """Points of the 2-D front (max accuracy, min ``key``) in increasing ``key``."""
    best = -1.0
    xs, ys = [], []
    for r in sorted(recs, key=lambda r: (r[key], -r["val_acc"])):
        if r["val_acc"] > best:
            best = r["val_acc"]
            xs.append(r[key])
            ys.append(100 * best)
    return xs, ys
