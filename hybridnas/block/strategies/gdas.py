"""GDAS: one hard Gumbel sample per edge; only the sampled op is computed.

Dong and Yang. "Searching for a Robust Neural Architecture in Four GPU Hours", CVPR 2019,
https://arxiv.org/abs/1910.04465. Every forward pass draws, for every edge, one op from
``softmax(alpha_e)`` by the Gumbel-max trick; the forward pass computes that op alone, weighted by
the straight-through one-hot sample, so alpha gets the gradient of the relaxed sample
``softmax((alpha_e + g) / tau)``. ``tau`` anneals linearly from ``tau_max`` to ``tau_min`` over
the search. Alpha and the weights alternate first-order steps as in DARTS; derivation is the
DARTS rule on ``softmax(alpha)``. It is the memory-cheap single-path reference: a step costs
about what a step of the sampled discrete network costs.

``none`` is not sampled unless ``sample_none: true`` (single-path search with ``none`` collapses
to it; see :mod:`.sampling`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import torch

from ...errors import UserError
from ..supernet import CellWeights
from . import STRATEGIES
from .darts import Darts
from .sampling import hard_gumbel, new_generator, sample_mask


@dataclass(frozen=True)
class GdasOptions:
    tau_max: float = 10.0
    tau_min: float = 0.1
    sample_none: bool = False


@STRATEGIES.register("gdas")
class Gdas(Darts):
    name = "gdas"
    Options = GdasOptions
    single_path = True

    def __init__(self, supernet, cfg, options):
        super().__init__(supernet, cfg, options)
        self.gen = new_generator()

    @classmethod
    def check_options(cls, opts, run_cfg, source):
        if not 0 < opts.tau_min <= opts.tau_max:
            raise UserError(f"{source}: need 0 < tau_min <= tau_max, got tau_min {opts.tau_min}, tau_max {opts.tau_max}")

    @property
    def tau(self) -> float:
        return self.opts.tau_max + (self.opts.tau_min - self.opts.tau_max) * self.progress

    def sampling_logits(self, kind: str) -> torch.Tensor:
        a = self.net.alphas[kind]
        return a.masked_fill(~sample_mask(self.net, kind, self.opts.sample_none).to(a.device), float("-inf"))

    def cell_weights(self, kind: str) -> CellWeights:
        sample, index = hard_gumbel(self.sampling_logits(kind), self.tau, self.gen)
        return CellWeights(sample, [[i] for i in index.tolist()])

    def probabilities(self, kind: str) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(self.sampling_logits(kind), dim=-1)

    def extra_state(self) -> Dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        if "gen" in state:
            self.gen.set_state(state["gen"].cpu())  # checkpoints are loaded onto the run's device
