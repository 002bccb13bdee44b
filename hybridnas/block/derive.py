"""Derive frozen cell genotypes from op weights: pure functions of an ``E x K`` matrix.

The DARTS rule: for each intermediate node, rank its incoming edges by their strongest op other
than ``none`` and keep the ``k`` strongest (2 by default), each with that op. The collapse guard
``max_parameter_free`` then swaps the weakest parameter-free choices (skip, pooling) for the best
parametric op of the same edge until at most that many remain.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

from ..space.genotype import CellGenotype, edge_index, node_edges
from ..space.ops import OPS


def derive_cell(
    weights: torch.Tensor,
    op_names: Sequence[str],
    nodes: int,
    *,
    k: int = 2,
    max_parameter_free: Optional[int] = None,
    mask: Optional[torch.Tensor] = None,
) -> CellGenotype:
    w = weights.detach().float().cpu().clone()
    usable = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.cpu().clone()
    if "none" in op_names:
        usable[:, list(op_names).index("none")] = False
    w[~usable] = float("-inf")
    edges = edge_index(nodes)
    # chosen[(node)] = list of (strength, edge position, op index)
    chosen: List[List[Tuple[float, int, int]]] = []
    for i, positions in sorted(node_edges(nodes).items()):
        ranked = []
        for e in positions:
            best = int(torch.argmax(w[e]))
            if torch.isfinite(w[e, best]):
                ranked.append((float(w[e, best]), e, best))
        ranked.sort(key=lambda t: -t[0])
        if not ranked:  # every op of every edge masked: fall back to the first usable-by-name op
            raise ValueError(f"node {i} has no usable op on any incoming edge")
        chosen.append(ranked[:k])
    if max_parameter_free is not None:
        free = torch.tensor([not OPS.get(op).parametric for op in op_names])
        parametric_w = w.clone()
        parametric_w[:, free] = float("-inf")
        picks = [(s, n, slot) for n, node in enumerate(chosen) for slot, (s, e, o) in enumerate(node) if free[o]]
        picks.sort(key=lambda t: t[0])  # weakest first
        excess = len(picks) - max_parameter_free
        for s, n, slot in picks:
            if excess <= 0:
                break
            _, e, _ = chosen[n][slot]
            alt = int(torch.argmax(parametric_w[e]))
            if torch.isfinite(parametric_w[e, alt]):
                chosen[n][slot] = (float(parametric_w[e, alt]), e, alt)
                excess -= 1
    return CellGenotype(
        tuple(tuple((op_names[o], edges[e][1]) for _, e, o in sorted(node, key=lambda t: t[1])) for node in chosen)
    )


def count_ops(cell: CellGenotype, names: Sequence[str]) -> int:
    return sum(1 for op in cell.ops() if op in names)


def parameter_free_count(cell: CellGenotype) -> int:
    return sum(1 for op in cell.ops() if not OPS.get(op).parametric)
