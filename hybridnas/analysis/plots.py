"""The figures of a run (matplotlib, Agg backend): one function per figure, one shared style
(:mod:`hybridnas.analysis.style`), and :data:`REGISTRY`, the one list of the figures
:func:`plot_all` draws, in drawing order, with what each shows and needs.

Each figure is written as ``plots/<stem>.<fmt>`` (PNG, SVG and/or PDF); most have one file named
after the figure, ``cells`` one per library block (``cells/block_<i>``) and ``alpha`` one per
block-search member and the entropy curves (:mod:`hybridnas.analysis.block_plots`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import UserError
from ..store.layout import BLOCKS, HV_REFERENCE, cell_plot_stem
from .block_plots import alpha_figures
from .style import (
    ACC_LABEL,
    FLOPS_LABEL,
    FORMATS,
    PARAMS_LABEL,
    Theme,
    log_count_axis,
    pyplot,
    rc_params,
    save,
    theme_of,
    whole_ticks,
)

if TYPE_CHECKING:  # numpy and the run reader load when a figure is drawn, so ``hybridnas --help``
    from ..results import RunResults  # (which lists FIGURES) stays quick


def _picked(results: RunResults) -> Dict[str, str]:
    """arch id -> the rule(s) that picked it."""
    from .pick import pick_labels

    return {a: "/".join(r) for a, r in pick_labels(results.picks()).items()}


def _count(n: int, noun: str) -> str:
    """``1 model``, ``2 models``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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


def _generation_fronts(results: RunResults, by_id: Dict[str, dict]) -> List[List[dict]]:
    """The front after each generation, as records (ids the budget filter dropped are skipped)."""
    return [[by_id[a] for a in g.get("front", []) if a in by_id] for g in results.generations()]


# Where a pick's label may go, in points from its marker: right, left, above, below, then farther out.
LABEL_OFFSETS = ((9, 7), (9, -15), (-9, 7), (-9, -15), (0, 14), (0, -22), (18, 20), (18, -28), (-18, 20),
                 (-18, -28), (30, 0), (-30, 0), (0, 32), (0, -40), (34, 30), (34, -38), (-34, 30), (-34, -38))
RING = 110  # a pick ring's marker size (points^2)


def _ring_picks(ax, points: Dict[str, Tuple[float, float]], picked: Dict[str, str], t: Theme) -> None:
    """Ring the picked models (labelled by :func:`_label_picks` once the figure is laid out)."""
    for k, (_aid, (x, y)) in enumerate(sorted((a, p) for a, p in points.items() if a in picked)):
        ax.scatter([x], [y], s=RING, facecolors="none", edgecolors=t.pick, linewidths=1.8, zorder=5,
                   label="picked (id)" if k == 0 else None)


def _label_picks(ax, points: Dict[str, Tuple[float, float]], picked: Dict[str, str], t: Theme,
                 others: Sequence[Tuple[float, float]] = ()) -> None:
    """Label each picked model with its id where the label covers the fewest markers (``others``:
    every point drawn in the axes) and no other label; a line joins a label set apart.

    Call it once the figure is laid out (scales, limits and the axes' size final): the placement
    works in display coordinates."""
    ax.autoscale_view()
    fig = ax.figure
    px = fig.dpi / 72.0  # pixels per point
    marks = ax.transData.transform(list(others) + list(points.values())) if (others or points) else []
    placed: List[Tuple[float, float, float, float]] = []
    for aid, (x, y) in sorted((a, p) for a, p in points.items() if a in picked):
        text = aid[:6]
        w, h = 8 * 0.7 * len(text) * px, 8 * 1.3 * px  # 8-point text, generously
        cx, cy = ax.transData.transform((x, y))

        def cost(off):
            dx, dy = off[0] * px, off[1] * px
            x0 = cx + dx - (w if dx < 0 else w / 2 if dx == 0 else 0)
            y0 = cy + dy
            box = (x0 - 2, y0 - 2, x0 + w + 2, y0 + h + 2)
            r = (RING ** 0.5 / 2 + 2) * px  # clear of a ring around any marker
            covered = sum(1 for mx, my in marks if box[0] - r <= mx <= box[2] + r and box[1] - r <= my <= box[3] + r)
            clash = sum(1 for b in placed if not (box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1]))
            frame = ax.bbox  # across the axes' edge: only when every place inside covers more markers
            out = box[0] < frame.x0 or box[2] > frame.x1 or box[1] < frame.y0 or box[3] > frame.y1
            return (covered + 10 * clash, out, abs(off[0]) + abs(off[1])), box

        (_, box), off = min(((cost(o), o) for o in LABEL_OFFSETS), key=lambda c: c[0][0])
        placed.append(box)
        far = abs(off[0]) + abs(off[1]) > 20
        ax.annotate(text, (x, y), textcoords="offset points", xytext=off, fontsize=8, color=t.pick, zorder=6,
                    in_layout=False,
                    ha="right" if off[0] < 0 else "center" if off[0] == 0 else "left", va="bottom",
                    arrowprops=dict(arrowstyle="-", color=t.pick, lw=0.6, shrinkA=0, shrinkB=6) if far else None)


# ------------------------------------------------------------------------------ figures


def fig_front(results: RunResults, t: Theme):
    """Accuracy against params and FLOPs, with earlier generations' fronts faded."""
    plt = pyplot()
    recs = results.records()
    front = results.front()
    by_id = {r["arch_id"]: r for r in recs}
    gens = _generation_fronts(results, by_id)
    picked = _picked(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), layout="constrained")
    for ax, key, label in ((axes[0], "params", PARAMS_LABEL), (axes[1], "flops", FLOPS_LABEL)):
        ax.scatter([r[key] for r in recs], [100 * r["val_acc"] for r in recs], s=12, c=t.muted, alpha=0.7,
                   linewidths=0, label=f"evaluated ({len(recs)})")
        earlier = gens[:-1]
        for g, gf in enumerate(earlier):
            if not gf:
                continue
            xs, ys = _staircase(gf, key)
            alpha = 0.15 + 0.5 * (g + 1) / max(len(earlier), 1)
            ax.step(xs, ys, where="post", c=t.front, lw=1.0, alpha=alpha, ls="--",
                    label=(f"fronts after generations 1-{len(earlier)} (later = stronger)" if len(earlier) > 1
                           else "front after generation 1") if g == len(earlier) - 1 else None)
        xs, ys = _staircase(recs, key)
        ax.step(xs, ys, where="post", c=t.front, lw=1.8,
                label=f"final front of this projection (2 objectives) vs {key}")
        _front_points(ax, front, key, t)
        ax.set_xscale("log")
        log_count_axis(ax.xaxis)
        _ring_picks(ax, {r["arch_id"]: (r[key], 100 * r["val_acc"]) for r in front}, picked, t)
        ax.set_xlabel(label)
        ax.set_ylabel(ACC_LABEL)
        ax.grid(True, which="major")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, [l.replace(" vs params", "") for l in labels], loc="outside lower center", ncol=3)
    fig.suptitle(f"{results.root.name}: accuracy against cost ({len(recs)} evaluated, {len(front)} on the front)")
    fig.get_layout_engine().execute(fig)  # the axes' final size, for placing the labels
    for ax, key in zip(axes, ("params", "flops")):
        _label_picks(ax, {r["arch_id"]: (r[key], 100 * r["val_acc"]) for r in front}, picked, t,
                     [(r[key], 100 * r["val_acc"]) for r in recs])
    return fig


def _front_points(ax, front: List[dict], key: str, t: Theme) -> None:
    """The front against ``key``: dots with ±1 standard error bars (when known); members whose
    accuracy is within noise of a member costing no more are drawn hollow."""
    from ..core.uncertainty import NOISE_MARK

    bars = [r for r in front if r.get("val_acc_se") is not None]
    if bars:
        ax.errorbar([r[key] for r in bars], [100 * r["val_acc"] for r in bars],
                    yerr=[100 * r["val_acc_se"] for r in bars], fmt="none", ecolor=t.front, elinewidth=0.9,
                    capsize=2.5, alpha=0.8, zorder=2, label="±1 standard error (validation split size)")
    solid = [r for r in front if not r.get(NOISE_MARK)]
    hollow = [r for r in front if r.get(NOISE_MARK)]
    ax.scatter([r[key] for r in solid], [100 * r["val_acc"] for r in solid], s=32, c=t.front, zorder=3,
               edgecolors=t.bg, linewidths=0.6, label=f"Pareto front, all objectives ({len(front)})")
    if hollow:
        ax.scatter([r[key] for r in hollow], [100 * r["val_acc"] for r in hollow], s=32, facecolors=t.bg,
                   edgecolors=t.front, linewidths=1.2, zorder=3,
                   label=f"front, not significantly more accurate than a member costing no more ({len(hollow)})")


def fig_front3d(results: RunResults, t: Theme):
    """Accuracy, params and FLOPs in one 3-D view (costs as log10: 3-D axes have no log scale)."""
    plt = pyplot()
    recs = results.records()
    front = results.front()
    picked = _picked(results)
    fig = plt.figure(figsize=(7.5, 6.2), constrained_layout=True)
    ax = fig.add_subplot(projection="3d")
    ax.set_facecolor(t.bg)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_pane_color(t.bg)
        axis._axinfo["grid"]["color"] = t.grid
        axis.line.set_color(t.fg)

    def xyz(rs):
        return ([math.log10(max(r["params"], 1)) for r in rs], [math.log10(max(r["flops"], 1)) for r in rs],
                [100 * r["val_acc"] for r in rs])

    ax.scatter(*xyz(recs), s=10, c=t.muted, alpha=0.6, depthshade=False, label=f"evaluated ({len(recs)})")
    ax.scatter(*xyz(front), s=34, c=t.front, depthshade=False, edgecolors=t.bg, linewidths=0.5,
               label=f"Pareto front ({len(front)})")
    for r in front:
        if r["arch_id"] in picked:
            x, y, z = (v[0] for v in xyz([r]))
            ax.scatter([x], [y], [z], s=120, facecolors="none", edgecolors=t.pick, linewidths=1.8, depthshade=False)
            ax.text(x, y, z, f"  {r['arch_id'][:6]}", color=t.pick, fontsize=8)
    ax.set_xlabel("log10 parameters (count)")
    ax.set_ylabel("log10 FLOPs per image (2 × MACs)")
    ax.set_zlabel(ACC_LABEL)
    ax.view_init(elev=22, azim=-58)
    ax.legend(loc="upper left")
    ax.set_title(f"{results.root.name}: the three objectives")
    return fig


def _parallel_axes(results: RunResults, front: List[dict]) -> List[Tuple[str, Callable[[dict], float], bool, str]]:
    """(label, value, log scale, format) per axis of the parallel-coordinates plot."""
    axes = [
        ("validation\naccuracy (%)", lambda r: 100 * r["val_acc"], False, "{:.1f}"),
        ("test\naccuracy (%)", lambda r: 100 * r["test_acc"], False, "{:.1f}"),
        ("parameters\n(count)", lambda r: r["params"], True, "{:,.0f}"),
        ("FLOPs per image\n(2 × MACs)", lambda r: r["flops"], True, "{:,.0f}"),
    ]
    if front and all(r.get("latency") is not None for r in front):
        axes.append(("latency\n(ms)", lambda r: r["latency"], True, "{:.3g}"))
    trained = results.trained()
    if front and any(r["arch_id"] in trained for r in front):
        axes.append(("full-training test\naccuracy (%)",
                     lambda r: 100 * trained[r["arch_id"]]["test_acc"] if r["arch_id"] in trained else float("nan"),
                     False, "{:.1f}"))
    return axes


def fig_parallel(results: RunResults, t: Theme):
    """Parallel coordinates of the front: one line per model, each axis scaled to its range."""
    import numpy as np
    from matplotlib import colors

    plt = pyplot()
    front = results.front()
    picked = _picked(results)
    axes = _parallel_axes(results, front)
    V = np.array([[f(r) for _, f, _, _ in axes] for r in front], dtype=float).reshape(len(front), len(axes))
    T = np.where(np.array([log for _, _, log, _ in axes])[None, :], np.log10(np.maximum(V, 1e-12)), V)
    lo, hi = np.nanmin(T, 0), np.nanmax(T, 0)
    N = (T - lo) / np.where(hi > lo, hi - lo, 1.0)
    fig, ax = plt.subplots(figsize=(10, 4.8), constrained_layout=True)
    cmap = plt.get_cmap(t.cmap)
    norm = colors.Normalize(vmin=np.nanmin(V[:, 0]) if len(V) else 0, vmax=np.nanmax(V[:, 0]) if len(V) else 1)
    xs = np.arange(len(axes))
    for i, r in enumerate(front):
        mine = r["arch_id"] in picked
        ax.plot(xs, N[i], c=t.pick if mine else cmap(0.15 + 0.8 * norm(V[i, 0])), lw=2.6 if mine else 1.2,
                alpha=1.0 if mine else 0.85, zorder=3 if mine else 2, marker="o", ms=3)
        if mine:
            last = int(np.flatnonzero(np.isfinite(N[i]))[-1])
            ax.annotate(r["arch_id"][:6], (xs[last], N[i, last]), textcoords="offset points",
                        xytext=(6, 0), va="center", fontsize=8, color=t.pick)
    for j, (_, _, _, fmt) in enumerate(axes):
        ax.axvline(j, c=t.fg, lw=0.8)
        col = V[:, j][np.isfinite(V[:, j])]
        if len(col):
            box = dict(boxstyle="round,pad=0.2", fc=t.bg, ec="none")
            ax.annotate(fmt.format(col.max()), (j, 1.0), textcoords="offset points", xytext=(0, 9), ha="center",
                        fontsize=8, bbox=box)
            ax.annotate(fmt.format(col.min()), (j, 0.0), textcoords="offset points", xytext=(0, -16), ha="center",
                        fontsize=8, bbox=box)
    ax.set_xticks(xs, [a[0] for a in axes])
    ax.set_yticks([])
    ax.set_ylim(-0.12, 1.12)
    ax.set_xlim(-0.3, len(axes) - 0.4)
    for s in ("left", "bottom"):
        ax.spines[s].set_visible(False)
    ax.tick_params(axis="x", length=0, pad=18)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, shrink=0.7, pad=0.02, label=ACC_LABEL)
    ax.set_title(f"{results.root.name}: the front's {_count(len(front), 'model')} (picked ones in blue, labelled); "
                 "each axis runs from its minimum (bottom) to its maximum (top), costs on a log scale", fontsize=9)
    return fig


def fig_hypervolume(results: RunResults, t: Theme):
    """Hypervolume of the front after each generation (normalised objectives), and models evaluated."""
    plt = pyplot()
    gens = results.generations()
    if not gens:
        raise UserError(f"run '{results.root}' has no finished generation yet; nothing to plot")
    ref = results.store.read_json(HV_REFERENCE, default={})
    g = [int(x["generation"]) + 1 for x in gens]
    hv = [float(x.get("hypervolume", float("nan"))) for x in gens]
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    ev = [x.get("evaluated") for x in gens]
    if all(e is not None for e in ev):
        ax2 = ax.twinx()
        ax2.bar(g, ev, color=t.muted, alpha=0.35, width=0.6, label="models evaluated so far")
        ax2.set_ylabel("models evaluated (count)")
        from matplotlib.ticker import MaxNLocator

        ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.spines["right"].set_visible(True)
        ax2.legend(loc="lower right")
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
    ax.plot(g, hv, c=t.front, lw=2, marker="o", label="hypervolume of the front")
    ax.set_xlabel("generation")
    ax.set_ylabel("hypervolume (normalised objectives, unitless)")
    whole_ticks(ax.xaxis, g)
    ax.grid(True)
    ax.legend(loc="upper left")
    objs = ", ".join(ref.get("objectives", results.config.objectives))
    ax.set_title(f"{results.root.name}: hypervolume per generation\n"
                 f"objectives {objs} scaled to [0, 1] (costs log10), reference point {ref.get('ref_point', '?')}",
                 fontsize=9)
    return fig


def fig_surrogate(results: RunResults, t: Theme):
    """How well the surrogate ranked each batch it chose, once evaluated (``surrogate/iter_NNN.json``)."""
    import numpy as np

    plt = pyplot()
    its = [it for it in results.surrogate_iterations() if it.get("phase") == "surrogate"]
    if not its:
        raise UserError(f"run '{results.root}' made no surrogate-assisted generation; nothing to plot")
    names = sorted({o for it in its for o in it.get("predictor", {})})
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    colours = (t.front, t.pick, t.accent, t.muted)
    for k, o in enumerate(names):
        c = colours[k % len(colours)]
        g = [int(it["generation"]) + 1 for it in its if o in it.get("batch_quality", {})]
        tau = [it["batch_quality"][o].get("kendall_tau") for it in its if o in it.get("batch_quality", {})]
        cv = [it["cv_kendall_tau"][o].get(it["predictor"][o]) for it in its if o in it.get("batch_quality", {})]
        ax.plot(g, [np.nan if v is None else v for v in tau], c=c, lw=2, marker="o",
                label=f"{o}: on the batch chosen, once evaluated")
        ax.plot(g, [np.nan if v is None else v for v in cv], c=c, lw=1, ls="--", marker=".",
                label=f"{o}: cross-validated on the archive (the predictor picked)")
        last = None
        for it, x, y in zip(its, g, cv):  # name the predictor where the choice changes
            if it["predictor"][o] != last and y is not None:
                ax.annotate(it["predictor"][o], (x, y), textcoords="offset points", xytext=(0, -12), ha="center",
                            fontsize=7, color=t.fg)
            last = it["predictor"][o]
    ax.axhline(0, c=t.muted, lw=0.8, ls=":")
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("generation (surrogate iteration)")
    whole_ticks(ax.xaxis, [int(it["generation"]) + 1 for it in its])
    ax.set_ylabel("Kendall τ, predicted vs measured (unitless)")
    ax.grid(True)
    ax.legend(loc="lower right")
    ax.set_title(f"{results.root.name}: how the surrogate ranked what it proposed\n"
                 "labels: the predictor chosen by k-fold Kendall τ, where the choice changes", fontsize=9)
    return fig


def fig_proxy(results: RunResults, t: Theme):
    """Proxy (search) accuracy against full-training accuracy of the models trained fully."""
    from ..core.uncertainty import standard_error
    from .proxy import proxy_agreement

    plt = pyplot()
    trained = list(results.trained().values())
    if not trained:
        raise UserError(f"no model of run '{results.root}' was trained fully; run 'hybridnas train' first")
    agree = proxy_agreement(trained)
    fig, ax = plt.subplots(figsize=(6, 4.6), constrained_layout=True)
    px = [100 * r["proxy_val_acc"] for r in trained]
    sizes = results.split_sizes()
    if sizes.get("val") and sizes.get("test"):  # ±1 standard error of each accuracy from its split size
        pxe = [100 * standard_error(r["proxy_val_acc"], sizes["val"]) for r in trained]
        ax.errorbar(px, [100 * r["test_acc"] for r in trained], xerr=pxe,
                    yerr=[100 * standard_error(r["test_acc"], results.trained_split_sizes(r).get("test", sizes["test"]))
                          for r in trained],
                    fmt="none", ecolor=t.muted, elinewidth=0.8, capsize=2, zorder=2, label="±1 standard error")
    ax.scatter(px, [100 * r["test_acc"] for r in trained], s=40, c=t.front, label="full training, test split", zorder=3)
    with_val = [(x, r) for x, r in zip(px, trained) if r.get("val_acc") is not None]  # none: val was trained on
    if with_val:
        ax.scatter([x for x, _ in with_val], [100 * r["val_acc"] for _, r in with_val], s=40, marker="s",
                   facecolors="none", edgecolors=t.accent, label="full training, validation split", zorder=3)
    for r, x in zip(trained, px):
        ax.annotate(r["arch_id"][:6], (x, 100 * r["test_acc"]), textcoords="offset points", xytext=(5, 4), fontsize=7)
    lo = min(px + [100 * r["test_acc"] for r in trained]) - 1
    hi = max(px + [100 * r["test_acc"] for r in trained]) + 1
    ax.plot([lo, hi], [lo, hi], c=t.muted, lw=0.8, ls=":", label="equal accuracy")
    ax.set_xlabel("proxy validation accuracy during the search (%)")
    ax.set_ylabel("accuracy after full training (%)")
    ax.grid(True)
    ax.legend(loc="lower right")
    tau = agree.get("kendall_tau_test")
    ax.set_title(f"{results.root.name}: proxy vs full training ({_count(len(trained), 'model')}"
                 + (f"; Kendall τ {tau:.2f}" if tau is not None else "") + ")")
    return fig


# --------------------------------------------------------------------------- cells

OP_LABELS = {
    "none": "none", "skip_connect": "skip", "max_pool_3x3": "max 3×3", "avg_pool_3x3": "avg 3×3",
    "sep_conv_3x3": "sep 3×3", "sep_conv_5x5": "sep 5×5", "dil_conv_3x3": "dil 3×3", "dil_conv_5x5": "dil 5×5",
}


def _op_colour(op: str, t: Theme) -> str:
    if "conv" in op:
        return t.front
    if "pool" in op:
        return t.pick
    return t.accent


def _draw_cell(ax, cell, title: str, t: Theme) -> None:
    """One cell DAG: inputs on the left, intermediate nodes left to right, the output on the right.

    Nodes are numbered as in the genotype string and the heat-maps of the block stage: 0 and 1
    are the cell's inputs (the outputs of the cell before the previous one and of the previous
    one), 2.. its intermediate nodes. Each op label goes to the point of its edge's arc that
    overlaps the nodes and the labels placed before it least (the middle when free).
    """
    n = cell.n_nodes
    pos = {0: (0.0, 1.1), 1: (0.0, -1.1)}
    for k in range(n):
        pos[k + 2] = (1.5 * (k + 1), 0.6 * (1 if k % 2 == 0 else -1) if n > 1 else 0.0)
    out = (1.5 * (n + 1), 0.0)
    node_r = 0.32  # a node's circle, in data units (the axes keep an equal aspect)
    taken = [(x, y, node_r, node_r) for x, y in list(pos.values()) + [out]]  # boxes: centre, half width, half height

    def overlap(box) -> float:
        x, y, w, h = box
        return sum(max(0.0, min(x + w, a + c) - max(x - w, a - c)) * max(0.0, min(y + h, b + d) - max(y - h, b - d))
                   for a, b, c, d in taken)

    for i, node in enumerate(cell.nodes, start=2):
        for m, (op, j) in enumerate(node):
            (x0, y0), (x1, y1) = pos[j], pos[i]
            rad = 0.25 * (1 if (j + m) % 2 == 0 else -1) if abs(x1 - x0) > 1.6 else 0.1
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="-|>", color=_op_colour(op, t), lw=1.4,
                                        shrinkA=13, shrinkB=13, connectionstyle=f"arc3,rad={rad}"))
            # the arc is a quadratic Bezier whose control point is the chord's midpoint moved by rad x chord
            cx, cy = (x0 + x1) / 2 + rad * (y1 - y0), (y0 + y1) / 2 - rad * (x1 - x0)
            text = OP_LABELS.get(op, op)
            half = (0.045 * len(text) + 0.06, 0.13)  # about 7-point text, in data units

            def box(u):
                bx = (1 - u) ** 2 * x0 + 2 * u * (1 - u) * cx + u ** 2 * x1
                by = (1 - u) ** 2 * y0 + 2 * u * (1 - u) * cy + u ** 2 * y1
                return (bx, by, *half)

            u = min((0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78), key=lambda u: (round(overlap(box(u)), 4), abs(u - 0.5)))
            lx, ly, _, _ = b = box(u)
            taken.append(b)
            ax.text(lx, ly, text, ha="center", va="center", fontsize=7, color=t.fg,
                    bbox=dict(boxstyle="round,pad=0.15", fc=t.bg, ec=_op_colour(op, t), lw=0.6), zorder=4)
    for i in range(2, n + 2):
        ax.annotate("", xy=out, xytext=pos[i], arrowprops=dict(arrowstyle="-|>", color=t.muted, lw=0.9, ls="--",
                                                               shrinkA=13, shrinkB=15))
    for i, (x, y) in pos.items():
        ax.scatter([x], [y], s=620 if i < 2 else 420, c=t.grid if i < 2 else t.bg, edgecolors=t.fg, zorder=5)
        ax.text(x, y, str(i), ha="center", va="center", fontsize=9, zorder=6)
    for i, name in ((0, "c[k-2]"), (1, "c[k-1]")):  # what the inputs are, beside them
        ax.text(pos[i][0] - 0.42, pos[i][1], name, ha="right", va="center", fontsize=7, color=t.fg, zorder=6)
    ax.scatter([out[0]], [out[1]], s=620, c=t.grid, edgecolors=t.fg, zorder=5)
    ax.text(out[0], out[1], "c[k]", ha="center", va="center", fontsize=7, zorder=6)
    ax.set_xlim(-1.3, out[0] + 0.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)


def fig_block(results: RunResults, index: int, t: Theme):
    """The normal and the reduction cell of library block ``index``."""
    plt = pyplot()
    entry = results.library[index]
    n = entry.genotype.normal.n_nodes
    fig, axes = plt.subplots(1, 2, figsize=(3.8 + 2.6 * n, 3.1), constrained_layout=True)
    _draw_cell(axes[0], entry.genotype.normal, f"block {index}: normal cell", t)
    _draw_cell(axes[1], entry.genotype.reduce, f"block {index}: reduction cell (inputs stride 2)", t)
    caption = (f"{entry.cell_params:,} params per normal cell; reference net {entry.net_params:,} params, "
               f"{2 * entry.net_macs:,} FLOPs.\nInputs 0, 1: the outputs c[k-2], c[k-1] of the two cells before; "
               f"output c[k] concatenates nodes 2-{n + 1} (numbered as in the genotype and the heat-maps).")
    fig.suptitle(_wrap(caption, fig.get_figwidth(), 8), fontsize=8)
    return fig


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize`` (DejaVu Sans averages
    about 0.6 em per character; a margin is kept), keeping its own line breaks."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.6 * fontsize) * 0.92))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


# ------------------------------------------------------------------------------ drivers


@dataclass(frozen=True)
class Figure:
    """One figure of :func:`plot_all`: its name (``hybridnas plot --figure NAME``), what it shows, how it is
    drawn and what a run needs for it."""

    name: str
    about: str
    draw: Callable[["RunResults", Theme], Iterable[Tuple[str, object]]]  # (file stem, figure) per file
    block: bool = False  # a figure of the block stage: a tabular run (genes looked up in a table) has none
    trains: bool = False  # needs fully trained models: a tabular run trains nothing
    columns: Tuple[str, ...] = ()  # record columns it reads (a table need not have them all)
    # why this run has nothing to draw for it (given "run 'PATH'"), or None
    lacks: Optional[Callable[["RunResults", str], Optional[str]]] = None
    always: bool = False  # a network run must have it: left out of "all" only for a tabular run


def _one(name: str, draw: Callable[["RunResults", Theme], object]):
    """The draw of a figure with one file, ``plots/<name>.<fmt>``."""
    return lambda results, t: [(name, draw(results, t))]


def _cells(results: "RunResults", t: Theme):
    for i in range(len(results.library)):  # one at a time: each is saved and closed before the next
        yield cell_plot_stem(i), fig_block(results, i, t)


def _no_library(results: "RunResults", run: str) -> Optional[str]:
    if not results.store.exists(BLOCKS):
        return f"{run} has no block library yet; resume the search to finish the block stage"
    return None


def _no_alpha(results: "RunResults", run: str) -> Optional[str]:
    from ..block.stage import alpha_history

    if not alpha_history(results.store):
        return (f"{run} logged no op probabilities in its block stage (block/alpha.jsonl), so there is no "
                "'alpha' figure; drop 'alpha' from --figure")
    return None


def _no_generation(results: "RunResults", run: str) -> Optional[str]:
    if not results.generations():
        return f"{run} has no finished generation yet; resume the search to finish one"
    return None


def _no_surrogate(results: "RunResults", run: str) -> Optional[str]:
    if not any(it.get("phase") == "surrogate" for it in results.surrogate_iterations()):
        return (f"{run} made no surrogate-assisted generation (engine.surrogate off, or the search stopped after its "
                "initial design), so there is no 'surrogate' figure; drop 'surrogate' from --figure")
    return None


def _not_trained(results: "RunResults", run: str) -> Optional[str]:
    if not results.trained():
        return f"no model of {run} was trained fully; run 'hybridnas train' first"
    return None


_FRONT_COLUMNS = ("val_acc", "params", "flops")
# Every figure, in drawing order.
REGISTRY: Tuple[Figure, ...] = (
    Figure("front", "validation accuracy against parameters and against FLOPs: every evaluated model, the fronts "
           "of earlier generations faded (later is stronger), the final front with ±1 standard error bars "
           "(members within noise of a cheaper one hollow), picks ringed", _one("front", fig_front),
           columns=_FRONT_COLUMNS),
    Figure("front3d", "the three objectives in one 3-D view", _one("front3d", fig_front3d), columns=_FRONT_COLUMNS),
    Figure("parallel", "parallel coordinates of the front members (accuracies, params, FLOPs, latency when "
           "measured), picks highlighted", _one("parallel", fig_parallel),
           columns=("val_acc", "test_acc", "params", "flops")),
    Figure("hypervolume", "the hypervolume of the front after each generation, with models evaluated",
           _one("hypervolume", fig_hypervolume), lacks=_no_generation),
    Figure("surrogate", "per surrogate iteration, the Kendall tau of the predictions on the batch chosen (once "
           "evaluated) and the chosen predictor's cross-validated tau", _one("surrogate", fig_surrogate),
           lacks=_no_surrogate),
    Figure("proxy", "proxy accuracy against full-training accuracy (±1 standard error), when models were trained "
           "fully", _one("proxy", fig_proxy), trains=True, lacks=_not_trained),
    Figure("cells", "the normal and reduction cell of each library block drawn as a DAG (cells/block_<i>)", _cells,
           block=True, lacks=_no_library, always=True),
    Figure("alpha", "op probabilities per block-search epoch as heat-maps (block_alpha_<member>) and their "
           "entropy (block_entropy)", alpha_figures, block=True, lacks=_no_alpha),
)
BY_NAME: Dict[str, Figure] = {f.name: f for f in REGISTRY}
# ``hybridnas plot --help`` lists these
FIGURES = tuple(f.name for f in REGISTRY)
BLOCK_FIGURES = tuple(f.name for f in REGISTRY if f.block)


def _known(values: Sequence[str], known: Sequence[str], empty: str, unknown: str) -> List[str]:
    """``values`` without repeats, in their first order, each one of ``known``; else a
    :class:`UserError`: ``empty`` when none is given, ``unknown`` (formatted with the name)."""
    values = list(dict.fromkeys(values))
    if not values:
        raise UserError(empty)
    for v in values:
        if v not in known:
            raise UserError(unknown.format(v))
    return values


def _why_not(results: "RunResults", name: str) -> Optional[str]:
    """Why figure ``name`` cannot be drawn for this run (a one-line error), or None if it can."""
    run = f"run '{results.root}'"
    figure = BY_NAME[name]
    if (figure.block or figure.trains) and results.config.tabular:
        what = "trains nothing" if figure.trains else "has no block library"
        return (f"{run} is a tabular run (its models are rows of a table), so it {what}: there is no '{name}' "
                f"figure; drop '{name}' from --figure")
    why = figure.lacks(results, run) if figure.lacks else None
    if why:
        return why
    missing = [c for c in figure.columns if any(c not in r for r in results.records())]
    if missing:
        return (f"the results of {run} have no column {', '.join(repr(c) for c in missing)}, which the "
                f"'{name}' figure needs; drop '{name}' from --figure")
    return None


def plot_front(run, formats: Sequence[str] = ("png",), theme: str = "light") -> List:
    """The accuracy-vs-cost figure only (``plots/front.<fmt>``); what the search draws at its end."""
    return plot_all(run, formats, theme, figures=("front",))


def plot_all(run, formats: Sequence[str] = ("png",), theme: str = "light",
             figures: Optional[Sequence[str]] = None) -> List:
    """Draw the figures of a run; returns the files written.

    ``figures=None`` draws all that apply to the run (those it cannot have, such as ``proxy``
    before any full training or the block figures of a tabular run, are left out). Figures named
    explicitly are all checked first: if one cannot be drawn, a :class:`UserError` says why and
    nothing is written. Repeated formats and figures are drawn once.
    """
    from ..results import RunResults

    results = run if isinstance(run, RunResults) else RunResults(run)
    t = theme_of(theme)
    formats = _known(formats, FORMATS, f"no plot format given; use one or more of {', '.join(FORMATS)}, e.g. "
                     "--format png", "unknown plot format '{}'; use " + ", ".join(FORMATS))
    if figures is not None:
        figures = _known(figures, FIGURES, f"no figure given; name one or more of {', '.join(FIGURES)}, or leave "
                         "out --figure for all", "unknown figure '{}'; choose from " + ", ".join(FIGURES))
    if not results.records():
        raise results.empty_front()
    if figures is None:  # all that apply
        wanted = [f.name for f in REGISTRY if _why_not(results, f.name) is None
                  or (f.always and not results.config.tabular)]  # a network run needs its library: say so
    else:  # each named one must be possible: check them all before drawing any
        wanted = figures
    for name in wanted:
        why = _why_not(results, name)
        if why:
            raise UserError(why)

    plt = pyplot()
    out: List = []
    with plt.rc_context(rc_params(t)):
        for name in wanted:
            for stem, fig in BY_NAME[name].draw(results, t):
                out += save(fig, results, stem, formats)
    return out
