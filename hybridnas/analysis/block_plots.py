"""Plots of the block stage: op probabilities as heat-maps and their entropy over epochs.

Reads ``block/alpha.jsonl`` (one record per library member and epoch) through the run store;
writes ``plots/block_alpha_<member>.<fmt>`` (the final op probabilities of the normal and the
reduction cell, edge by op) and ``plots/block_entropy.<fmt>`` (per epoch, the mean entropy of the
strategy's distributions - one per edge, one per node for ``egs`` - as a fraction of the entropy
of uniform distributions over the same entries: 1 is uniform, 0 is decided; see
:mod:`hybridnas.block.health`).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from ..results import RunResults
from ..space.genotype import edge_index
from .style import pyplot, whole_ticks


def alpha_figures(results: RunResults, t) -> List[Tuple[str, object]]:
    """``(stem, figure)`` for each member's heat-map and the entropy curves; none without a
    block stage (a tabular run) or before its first epoch."""
    from ..block.health import relative_entropy
    from ..block.stage import alpha_history

    history = alpha_history(results.store)
    if not history:
        return []
    plt = pyplot()
    by_member: Dict[int, List[dict]] = {}
    for r in history:
        by_member.setdefault(r["member"], []).append(r)
    out: List[Tuple[str, object]] = []
    nodes = results.config.cell.nodes
    edge_labels = [f"{i}<-{j}" for i, j in edge_index(nodes)]
    for member, recs in sorted(by_member.items()):
        last = recs[-1]
        ops = last["ops"]
        fig, axes = plt.subplots(1, 2, figsize=(2.0 + 0.9 * len(ops) * 2, 1.2 + 0.32 * len(edge_labels)),
                                 constrained_layout=True)
        for ax, kind in zip(axes, ("normal", "reduce")):
            probs = last[kind]["probs"]
            im = ax.imshow(probs, cmap=t.cmap, vmin=0.0, vmax=max(max(row) for row in probs), aspect="auto")
            ax.set_xticks(range(len(ops)), [o.replace("_", "\n", 1) for o in ops], fontsize=7)
            ax.set_yticks(range(len(edge_labels)), edge_labels, fontsize=7)
            ax.set_xlabel("operation")
            ax.set_ylabel("edge (node <- input; 0, 1: the cell's inputs)")
            ax.set_title(f"{kind} cell, epoch {last['epoch'] + 1} "
                         f"(entropy {relative_entropy(last, kind):.2f} of uniform)",
                         fontsize=9)
            for e, row in enumerate(probs):
                for k, p in enumerate(row):
                    ax.text(k, e, f"{p:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if p < 0.6 * max(row) else "black")
            fig.colorbar(im, ax=ax, shrink=0.8, label="op probability")
        fig.suptitle(f"block search member {member}: op probabilities", fontsize=10)
        out.append((f"block_alpha_{member}", fig))

    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    for member, recs in sorted(by_member.items()):
        for kind, style in (("normal", "-"), ("reduce", "--")):
            ax.plot([r["epoch"] + 1 for r in recs], [relative_entropy(r, kind) for r in recs], style, marker="o", ms=3,
                    label=f"member {member} {kind}")
    ax.axhline(1.0, color=t.muted, lw=0.8, ls=":", label="uniform")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("search epoch")
    whole_ticks(ax.xaxis, [r["epoch"] + 1 for r in history])
    ax.set_ylabel("entropy / entropy of uniform")
    ax.set_title("architecture entropy per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    out.append(("block_entropy", fig))
    return out
