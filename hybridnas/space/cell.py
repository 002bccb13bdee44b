"""The cell plumbing shared by the supernet and by networks built from genotypes.

:func:`plan_cells` is the single source of channel and resolution bookkeeping: for each cell it
says what its two inputs are (channels, resolution, whether the older input needs halving). The
network builder, the supernet and the analytic cost model all read that plan, so they cannot
disagree about shapes.

:class:`CellBase` owns the preprocessing of the two inputs and the node loop; subclasses say only
how a node combines its inputs (a mixed op per edge in the supernet, the chosen ops in a
derived cell). :class:`CellStack` owns the stem, the stack of cells and the classifier head with
the uniform model API (``forward_features``, ``forward_head``, ``forward``, ``reset_classifier``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn

from .ops import FactorizedReduce, ReLUConvBN, out_size


@dataclass(frozen=True)
class CellPlan:
    c_pp: int  # channels of input 0 (output of the cell before the previous one)
    c_p: int  # channels of input 1 (output of the previous cell)
    c: int  # channels of every node inside the cell
    reduction: bool  # this cell halves the resolution
    reduction_prev: bool  # input 0 is at twice the resolution of input 1
    res_pp: Tuple[int, int]  # resolution of input 0
    res_p: Tuple[int, int]  # resolution of input 1
    nodes: int

    @property
    def c_out(self) -> int:
        return self.c * self.nodes

    @property
    def res_out(self) -> Tuple[int, int]:
        s = 2 if self.reduction else 1
        return out_size(self.res_p[0], s), out_size(self.res_p[1], s)


def plan_cells(stem_c: int, res: Tuple[int, int], cells: Sequence[Tuple[int, bool]], nodes: int) -> List[CellPlan]:
    """Plan a stack of cells after a stem of ``stem_c`` channels at resolution ``res``.

    ``cells`` lists ``(channels, reduction)`` per cell.
    """
    plans: List[CellPlan] = []
    c_pp = c_p = stem_c
    res_pp = res_p = tuple(res)
    reduction_prev = False
    for c, reduction in cells:
        p = CellPlan(c_pp, c_p, int(c), bool(reduction), reduction_prev, res_pp, res_p, nodes)
        plans.append(p)
        c_pp, c_p = c_p, p.c_out
        res_pp, res_p = res_p, p.res_out
        reduction_prev = p.reduction
    return plans


def preprocess_modules(plan: CellPlan, affine: bool) -> Tuple[nn.Module, nn.Module]:
    pre0 = (FactorizedReduce(plan.c_pp, plan.c, affine) if plan.reduction_prev
            else ReLUConvBN(plan.c_pp, plan.c, 1, 1, 0, affine))
    return pre0, ReLUConvBN(plan.c_p, plan.c, 1, 1, 0, affine)


def edge_stride(plan: CellPlan, j: int) -> int:
    """Edges leaving the two cell inputs stride in a reduction cell; all others keep resolution."""
    return 2 if plan.reduction and j < 2 else 1


class CellBase(nn.Module):
    def __init__(self, plan: CellPlan, affine: bool):
        super().__init__()
        self.plan = plan
        self.reduction = plan.reduction
        self.pre0, self.pre1 = preprocess_modules(plan, affine)

    def node(self, i: int, states: List[torch.Tensor], *args) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, s0, s1, *args):
        states = [self.pre0(s0), self.pre1(s1)]
        for i in range(2, self.plan.nodes + 2):
            states.append(self.node(i, states, *args))
        return torch.cat(states[2:], dim=1)


class CellStack(nn.Module):
    """Stem, a stack of cells, global pooling and a linear classifier."""

    def __init__(self, in_chans: int, stem_c: int, num_classes: int, cells: Sequence[CellBase], affine: bool = True):
        super().__init__()
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, stem_c, 3, padding=1, bias=False), nn.BatchNorm2d(stem_c, affine=affine)
        )
        self.cells = nn.ModuleList(cells)
        self.num_features = cells[-1].plan.c_out if cells else stem_c
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x, *args):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, *args)
        return s1

    def forward_head(self, x, pre_logits: bool = False):
        x = self.global_pool(x).flatten(1)
        return x if pre_logits else self.classifier(x)

    def forward(self, x, *args):
        return self.forward_head(self.forward_features(x, *args))

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.num_features, num_classes)
