"""Enhanced gradient: DARTS whose architecture gradient also favours cheap operations.

Zhang, Hao et al. "Enhanced Gradient for Differentiable Architecture Search", IEEE TNNLS 2023,
https://arxiv.org/abs/2103.12529. The paper's update equation could not be obtained; this is a
reconstruction from its abstract (blocks "both high-performing and low-complexity"), in two
readings behind ``mode``:

* ``additive`` (default): ``g_a = grad_a L_val + lam * grad_a C(a)`` with the expected cost
  ``C(a) = sum_edges sum_k softmax(a_e)_k c_k / c_max``; ``c_k`` is op k's params (or MACs,
  ``cost: flops``) on that edge of the first cell of its kind, ``c_max`` the largest cost in that
  cell kind (``none`` costs 0 and so never sets it). Same family as ProxylessNAS's expected cost.
* ``multiplicative``: the alpha *update* is scaled, ``da_k <- da_k (1 + beta (1 - c_k / c_max))``
  wherever the step raises ``a_k`` (``da_k > 0``): cheaper ops grow faster, nothing is pushed
  down. The reading scales the gradient, but alpha's optimiser is Adam, which divides each
  coordinate's step by the running size of that coordinate's gradients: scaling one coordinate's
  gradient by a constant leaves its step unchanged (measured: 50 Adam steps with the gradient
  doubled gave bit-identical alpha). So the boost is applied to the step Adam takes.

``lam = 0`` (or ``beta = 0``) is exactly DARTS. Both pull toward parameter-free ops, so the
collapse guards of the block stage (``max_parameter_free``, ``skip_stop``) matter more here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping

import torch
import torch.nn.functional as F

from ...config import BlockConfig
from ..supernet import KINDS, Supernet
from . import STRATEGIES
from .darts import Darts


@dataclass(frozen=True)
class EnhancedOptions:
    lam: float = 0.5
    """``mode: additive``: weight of the expected normalised cost added to alpha's loss; 0 is
    plain DARTS. Sweep it in ``block.library`` for blocks from rich to cheap."""
    mode: Literal["additive", "multiplicative"] = "additive"
    """``additive``: the cost term ``lam * C(alpha)`` in the gradient; ``multiplicative``: alpha's
    rising steps are scaled by ``1 + beta (1 - cost / max cost)``, so cheap ops grow faster."""
    beta: float = 1.0
    """``mode: multiplicative``: strength of the boost of cheap ops; 0 is plain DARTS."""
    cost: Literal["params", "flops"] = "params"
    """What an op costs: its parameters, or its multiply-accumulates (``flops``), on its edge."""
    order: Literal[1, 2] = 1
    """1: first-order alternating steps; 2: DARTS's unrolled second-order approximation."""


@STRATEGIES.register("enhanced")
class Enhanced(Darts):
    name = "enhanced"
    Options = EnhancedOptions

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        metric = "params" if self.opts.cost == "params" else "macs"
        dev = supernet.alphas["normal"].device
        self.norm_cost: Dict[str, torch.Tensor] = {}
        for kind in KINDS:
            c = supernet.op_costs(kind, metric)
            self.norm_cost[kind] = (c / c.max().clamp(min=1.0)).to(dev)

    def expected_cost(self) -> torch.Tensor:
        """``C(a)``: the softmax-expected normalised cost, summed over edges and cell kinds."""
        return sum((F.softmax(self.masked_alpha(k), -1) * self.norm_cost[k]).sum() for k in KINDS)

    def arch_objective(self, x, y):
        loss = super().arch_objective(x, y)
        if self.opts.mode == "additive" and self.opts.lam:
            loss = loss + self.opts.lam * self.expected_cost()
        return loss

    def adjust_arch_update(self, before: List[torch.Tensor]) -> None:
        if self.opts.mode != "multiplicative" or not self.opts.beta:
            return
        with torch.no_grad():
            for kind, old in zip(KINDS, before):
                a = self.net.alphas[kind]
                step = a - old
                boost = 1.0 + self.opts.beta * (1.0 - self.norm_cost[kind])
                a.copy_(old + torch.where(step > 0, step * boost, step))
