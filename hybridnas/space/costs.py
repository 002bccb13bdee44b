"""Exact analytic parameters and MACs of a network, without building it.

The cost of each op comes from its entry in :mod:`hybridnas.space.ops`; this module only walks
the cell plan (:func:`hybridnas.space.cell.plan_cells`, the same plan the builder uses) and sums.
FLOPs = 2 x MACs, the convention of ``torch.utils.flop_counter.FlopCounterMode`` (conv and
linear only; BN, pooling and activations are free). Cells are memoised, so a genome costs
microseconds; the tests check every number against FlopCounterMode and ``numel``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from ..errors import UserError
from .cell import CellPlan, edge_stride, plan_cells
from .genome import ArchSpec, Genome, Stage
from .genotype import CellGenotype
from .ops import factorized_reduce_cost, op_cost, relu_conv_bn_cost

if TYPE_CHECKING:
    from ..config import RunConfig


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
    return inputs_cost(plan) + ops_cost(plan, genotype)


def inputs_cost(plan: CellPlan) -> Cost:
    """The two input projections of a cell, whatever its genotype."""
    if plan.reduction_prev:
        p0, m0 = factorized_reduce_cost(plan.c_pp, plan.c, *plan.res_pp)
    else:
        p0, m0 = relu_conv_bn_cost(plan.c_pp, plan.c, 1, 1, *plan.res_pp)
    p1, m1 = relu_conv_bn_cost(plan.c_p, plan.c, 1, 1, *plan.res_p)
    return Cost(p0 + p1, m0 + m1)


def ops_cost(plan: CellPlan, genotype: CellGenotype) -> Cost:
    params = macs = 0
    inner = plan.res_out  # intermediate nodes are at the output resolution
    for node in genotype.nodes:
        for op, j in node:
            res = plan.res_p if j < 2 else inner
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


def smallest_cost(network, nodes: int, in_chans: int, num_classes: int, image_size: Tuple[int, int],
                  blocks: Sequence = (), limit: int = 100_000) -> Optional[Cost]:
    """The fewest parameters and the fewest MACs (each minimised on its own) of any network the
    ``network`` section allows; ``None`` when there are over ``limit`` stage layouts to try.

    With ``blocks`` (the library's block genotypes) the answer is exact. Without, every op costs
    nothing, leaving the stem, each cell's two input projections and the classifier: a bound no
    library can go below, known before any training. Every cost grows with every channel count,
    so the smallest stem and width are taken; repeats and downsampling flags are enumerated
    (a cell more can make the next one's inputs cheaper), and as op costs depend only on the
    layout, each stage takes its cheapest block.
    """
    lo, hi = network.blocks
    layouts = [(r, d) for r in range(lo, hi + 1) for d in sorted(set(network.downsample))]
    if len(layouts) ** network.stages > limit:
        return None
    stem, width = min(network.stem), min(network.widths)
    best_p = best_m = None
    for combo in itertools.product(layouts, repeat=network.stages):
        genome = Genome(stem, tuple(Stage(r, 0, width, bool(d)) for r, d in combo))
        cells = genome.cells(network.base_width)
        plans = plan_cells(stem, image_size, [(c, red) for c, red, _ in cells], nodes)
        fixed = stem_cost(in_chans, stem, image_size) + head_cost(plans[-1].c_out if plans else stem, num_classes)
        for plan in plans:
            fixed = fixed + inputs_cost(plan)
        params, macs = fixed.params, fixed.macs
        k = 0
        for r, _ in combo:
            stage = list(zip(plans[k:k + r], cells[k:k + r]))
            k += r
            if blocks:
                costs = [sum((ops_cost(p, b.cell(red)) for p, (_, red, _) in stage), Cost(0, 0)) for b in blocks]
                params += min(c.params for c in costs)
                macs += min(c.macs for c in costs)
        best_p = params if best_p is None else min(best_p, params)
        best_m = macs if best_m is None else min(best_m, macs)
    return Cost(best_p, best_m)


def check_constraints(cfg: RunConfig, in_chans: int, num_classes: int, image_size: Tuple[int, int],
                      blocks: Sequence = ()) -> None:
    """Refuse ``constraints.max_params`` / ``max_flops`` below the smallest network of the space
    (a bound before the block stage, exact once ``blocks`` is known): no candidate could be kept."""
    c = cfg.constraints
    if c.max_params is None and c.max_flops is None:
        return
    least = smallest_cost(cfg.network, cfg.cell.nodes, in_chans, num_classes, tuple(image_size), blocks)
    if least is None:
        return
    for key, limit, have in (("max_params", c.max_params, least.params), ("max_flops", c.max_flops, least.flops)):
        if limit is None or have <= limit:
            continue
        what = "params" if key == "max_params" else "FLOPs"
        if blocks:
            raise UserError(
                f"constraints.{key}={limit:g} cannot be met: the smallest network of the block library has "
                f"{have:,} {what}; start a new run with a higher limit (copy this run's blocks.json into the new "
                "run directory to reuse the library)")
        raise UserError(
            f"constraints.{key}={limit:g} cannot be met: the smallest network of this space has at least {have:,} "
            f"{what} (stem, cell inputs and classifier alone); raise the limit or shrink network.stem, "
            "network.widths or network.blocks")


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
