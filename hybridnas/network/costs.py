"""Exact analytic parameters and MACs of a network, without building it.

The cost of each op comes from its entry in :mod:`hybridnas.space.ops`; this module only walks
the cell plan (:func:`hybridnas.space.cell.plan_cells`, the same plan the builder uses) and sums.
FLOPs = 2 x MACs, the convention of ``torch.utils.flop_counter.FlopCounterMode`` (conv and
linear only; BN, pooling and activations are free). Cells are memoised, so a genome costs
microseconds; the tests check every number against FlopCounterMode and ``numel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Tuple

from ..space.cell import CellPlan, edge_stride, plan_cells
from ..space.genome import ArchSpec
from ..space.genotype import CellGenotype
from ..space.ops import factorized_reduce_cost, op_cost, relu_conv_bn_cost


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.params + other.params, self.macs + other.macs)


@lru_cache(maxsize=65536)
def cell_cost(plan: CellPlan, genotype: CellGenotype) -> Cost:
    """Preprocessing of both inputs plus every op of the genotype."""
    h, w = plan.res_p
    if plan.reduction_prev:
        p0, m0 = factorized_reduce_cost(plan.c_pp, plan.c, *plan.res_pp)
    else:
        p0, m0 = relu_conv_bn_cost(plan.c_pp, plan.c, 1, 1, *plan.res_pp)
    p1, m1 = relu_conv_bn_cost(plan.c_p, plan.c, 1, 1, h, w)
    params, macs = p0 + p1, m0 + m1
    inner = plan.res_out  # intermediate nodes are at the output resolution
    for node in genotype.nodes:
        for op, j in node:
            res = (h, w) if j < 2 else inner
            p, m = op_cost(op, plan.c, edge_stride(plan, j), *res)
            params += p
            macs += m
    return Cost(params, macs)


def stem_cost(in_chans: int, stem_c: int, res: Tuple[int, int]) -> Cost:
    return Cost(9 * in_chans * stem_c + 2 * stem_c, 9 * in_chans * stem_c * res[0] * res[1])


def head_cost(features: int, num_classes: int) -> Cost:
    return Cost(features * num_classes + num_classes, features * num_classes)


def network_cost(spec: ArchSpec) -> Cost:
    cells = spec.cells()
    plans = plan_cells(spec.genome.stem, spec.image_size, [(c, red) for c, red, _ in cells], spec.nodes)
    total = stem_cost(spec.in_chans, spec.genome.stem, spec.image_size)
    for plan, (_, _, genotype) in zip(plans, cells):
        total = total + cell_cost(plan, genotype)
    features = plans[-1].c_out if plans else spec.genome.stem
    return total + head_cost(features, spec.num_classes)


def measured_cost(model, input_shape) -> Cost:
    """Parameters by ``numel`` and MACs by FlopCounterMode (slow: for tests and verification)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    return Cost(params, counter.get_total_flops() // 2)
