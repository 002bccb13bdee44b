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

import torch

from ..supernet import CellWeights
from . import STRATEGIES
from .sampling import GumbelDarts, hard_gumbel


@dataclass(frozen=True)
class GdasOptions:
    tau_max: float = 10.0
    """Gumbel-softmax temperature at the start of the search, annealed linearly to ``tau_min``."""
    tau_min: float = 0.1
    """Temperature at the end of the search, with 0 < ``tau_min`` <= ``tau_max``."""
    sample_none: bool = False
    """Sample the ``none`` op too; off by default, as single-path search collapses to it."""


@STRATEGIES.register("gdas")
class Gdas(GumbelDarts):
    name = "gdas"
    Options = GdasOptions
    single_path = True

    def cell_weights(self, kind: str) -> CellWeights:
        sample, index = hard_gumbel(self.sampling_logits(kind), self.tau, self.gen)
        return CellWeights(sample, [[i] for i in index.tolist()])

    def probabilities(self, kind: str) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(self.sampling_logits(kind), dim=-1)
