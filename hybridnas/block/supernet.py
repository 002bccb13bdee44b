"""The weight-sharing supernet of DARTS cells.

Every edge ``i<-j`` of every cell holds all candidate ops (:class:`MixedOp`). The architecture
parameters live in ``supernet.alphas``, an ``nn.ParameterDict`` with one ``E x K`` tensor per cell
kind (``normal``, ``reduce``), so they are saved in ``state_dict``. The supernet does not decide
how ops are mixed: each forward pass takes a :class:`CellWeights` per cell kind, produced by the
block strategy (softmax for DARTS, hard Gumbel samples for GDAS, ...). An edge with an ``active``
list computes only those ops; an edge whose list is empty is skipped altogether.

``op_mask`` (a buffer, so it is checkpointed) marks ops still in the space; shrinking and
pruning strategies clear entries, and every strategy must give masked ops zero weight.

:meth:`Supernet.set_channels_last` keeps weights and activations in NHWC (``block.channels_last``,
on by default: a search step is about 1.5x faster on CPU, ``benchmarks/channels_last.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..space.cell import CellBase, CellPlan, CellStack, edge_stride, plan_cells
from ..space.genotype import edge_index, node_edges
from ..space.ops import OPS, build_op, op_cost

KINDS = ("normal", "reduce")


@dataclass
class CellWeights:
    """Per-edge op weights for one cell kind: ``weights`` is ``E x K``; ``active[e]`` lists the
    ops of edge ``e`` to compute (None: all ops with their weights)."""

    weights: torch.Tensor
    active: Optional[List[List[int]]] = None


class MixedOp(nn.Module):
    def __init__(self, c: int, stride: int, ops: Sequence[str]):
        super().__init__()
        mods = []
        for name in ops:
            op = build_op(name, c, stride, affine=False)
            if "pool" in name:  # as in DARTS: BN after pooling keeps the scales of all ops alike
                op = nn.Sequential(op, nn.BatchNorm2d(c, affine=False))
            mods.append(op)
        self.ops = nn.ModuleList(mods)

    def forward(self, x, weights: torch.Tensor, active: Optional[List[int]] = None):
        if active is None:
            return sum(w * op(x) for w, op in zip(weights, self.ops))
        return sum(weights[k] * self.ops[k](x) for k in active)


class MixedCell(CellBase):
    def __init__(self, plan: CellPlan, ops: Sequence[str]):
        super().__init__(plan, affine=False)
        self.edge_list = edge_index(plan.nodes)
        self.node_edge_pos = node_edges(plan.nodes)
        self.edges = nn.ModuleList(MixedOp(plan.c, edge_stride(plan, j), ops) for _, j in self.edge_list)

    def node(self, i, states, cw: CellWeights):
        out = None
        for e in self.node_edge_pos[i]:
            active = None if cw.active is None else cw.active[e]
            if active is not None and not active:
                continue
            h = self.edges[e](states[self.edge_list[e][1]], cw.weights[e], active)
            out = h if out is None else out + h
        if out is None:  # every incoming edge inactive: keep the shape, contribute nothing
            ref = states[1] if not self.plan.reduction else self.edges[0].ops[0](states[0]) * 0
            out = torch.zeros_like(ref)
        return out


def supernet_cells(width: int, cells: int) -> List[Tuple[int, bool]]:
    """DARTS layout: reduction cells at 1/3 and 2/3 of the depth, channels doubling at each."""
    out, c = [], width
    for k in range(cells):
        red = k in (cells // 3, 2 * cells // 3)
        if red:
            c *= 2
        out.append((c, red))
    return out


class Supernet(CellStack):
    channels_last = False  # memory format of weights and activations (set_channels_last)

    def __init__(
        self,
        ops: Sequence[str],
        nodes: int,
        width: int,
        cells: int,
        in_chans: int,
        num_classes: int,
        image_size: Tuple[int, int],
        stem_multiplier: int = 3,
    ):
        self.op_names = tuple(ops)
        self.nodes = nodes
        self.width = width
        self.image_size = tuple(image_size)
        stem_c = stem_multiplier * width
        plans = plan_cells(stem_c, image_size, supernet_cells(width, cells), nodes)
        super().__init__(in_chans, stem_c, num_classes, [MixedCell(p, ops) for p in plans], affine=False)
        n_edges, n_ops = len(edge_index(nodes)), len(ops)
        self.alphas = nn.ParameterDict({k: nn.Parameter(1e-3 * torch.randn(n_edges, n_ops)) for k in KINDS})
        self.register_buffer("op_mask", torch.ones(len(KINDS), n_edges, n_ops, dtype=torch.bool))

    @property
    def n_edges(self) -> int:
        return self.alphas["normal"].shape[0]

    def mask(self, kind: str) -> torch.Tensor:
        return self.op_mask[KINDS.index(kind)]

    def arch_parameters(self) -> List[nn.Parameter]:
        return [self.alphas[k] for k in KINDS]

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        for name, p in self.named_parameters():
            if not name.startswith("alphas."):
                yield p

    def set_channels_last(self, on: Optional[bool]) -> "Supernet":
        """NHWC weights and inputs when ``on`` (``None`` counts as off); returns the supernet.
        Parameters keep their identity, so optimisers made before still hold them."""
        self.channels_last = bool(on)
        self.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        return self

    def forward_features(self, x, weights: Dict[str, CellWeights]):
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights["reduce" if cell.reduction else "normal"])
        return s1

    def first_plan(self, kind: str) -> CellPlan:
        return next(c.plan for c in self.cells if c.reduction == (kind == "reduce"))

    def op_costs(self, kind: str, metric: str = "params") -> torch.Tensor:
        """``E x K`` cost of each op on each edge of the first cell of ``kind`` (params or macs)."""
        plan = self.first_plan(kind)
        inner = plan.res_out
        rows = []
        for _i, j in edge_index(self.nodes):
            res = plan.res_p if j < 2 else inner
            rows.append([op_cost(op, plan.c, edge_stride(plan, j), *res)[0 if metric == "params" else 1]
                         for op in self.op_names])
        return torch.tensor(rows, dtype=torch.float32)

    def parameter_free(self) -> torch.Tensor:
        return torch.tensor([not OPS.get(op).parametric for op in self.op_names])
