"""DATA: Ensemble Gumbel-Softmax (EGS) with the architecture distribution constraint (ADC).

Zhang, Zhang et al. "Differentiable Architecture Search with Ensemble Gumbel-Softmax" /
"DATA: Differentiable ArchiTecture Approximation", NeurIPS 2019,
https://papers.nips.cc/paper/8374-data-differentiable-architecture-approximation.
Public code: https://github.com/XinbangZhang/DATA-NAS (read, not copied).

For each intermediate node, the rows of alpha of its incoming edges form one joint distribution
``p = softmax(alpha)`` over (incoming edge, op) pairs. Every forward pass:

1. draws ``samples`` (M) hard Gumbel-softmax samples from ``p`` (one-hot forward, straight-through
   gradient of the relaxed sample at temperature ``tau``);
2. combines them by element-wise max into a binary code ``b`` with 1..M ones;
3. computes only the ops whose entry is set, each weighted by ``b`` divided by the number of
   set entries other than ``none`` (at least 1, so a code that drew only ``none`` divides by 1
   and the node contributes zeros instead of dividing by ~0).

``tau`` anneals linearly from ``tau_max`` (5) to ``tau_min`` (1) over the search. The alpha step
minimises the validation loss plus ADC, ``adc * L1(p, (b / n).detach())`` (mean over entries),
which pulls the distribution toward the codes it samples and so lowers the variance of sampling.
The target is the code normalised as the forward pass weights it (``n``: its entries other than
``none``), as in the public code (``weights_norm`` in ``architect.py``): like ``p``, a node's
target then sums to 1, where the raw code sums to 1..M.
Derivation is the multinomial top-k rule (:func:`~hybridnas.block.derive.derive_cell_topk`):
a node keeps 1..M inputs. ``none`` is not sampled unless ``sample_none: true``.

``probabilities(kind)`` returns the joint distributions laid out ``E x K``: the rows of one node
sum to 1 together, not each row; ``distributions(kind)`` gives one vector per node, so the
entropies in ``block/alpha.jsonl`` are per node, against the log of the node's (edge, op) pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F

from ...config import BlockConfig, RunConfig
from ...errors import UserError
from ...space.genotype import CellGenotype, node_edges
from ..derive import derive_cell_topk
from ..supernet import KINDS, CellWeights, Supernet
from . import STRATEGIES
from .sampling import GumbelDarts, active_lists, hard_gumbel


@dataclass(frozen=True)
class EgsOptions:
    samples: int = 2
    """M, hard Gumbel samples per node and forward pass, >= 1: a node keeps 1..M inputs (the paper
    uses 4 and 7 on CIFAR; 1 is single-path)."""
    tau_max: float = 5.0
    """Gumbel-softmax temperature at the start of the search, annealed linearly to ``tau_min``."""
    tau_min: float = 1.0
    """Temperature at the end of the search, with 0 < ``tau_min`` <= ``tau_max``."""
    adc: float = 0.1
    """Weight of the architecture distribution constraint (pulls each node's distribution toward
    the codes it samples), >= 0; 0 turns it off."""
    sample_none: bool = False
    """Sample the ``none`` op too; off by default, as sampled search collapses to it."""


@STRATEGIES.register("egs")
class Egs(GumbelDarts):
    name = "egs"
    Options = EgsOptions

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        edges = node_edges(supernet.nodes)
        # the rows of each node are contiguous in edge_index order
        self.node_rows: List[Tuple[int, int]] = [(min(p), max(p) + 1) for _, p in sorted(edges.items())]
        self.none = supernet.op_names.index("none") if "none" in supernet.op_names else -1
        self._last: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def single_path(self) -> bool:  # one (edge, op) pair per node when M = 1
        return self.opts.samples == 1

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        super().check_options(opts, run_cfg, source)
        if opts.samples < 1:
            raise UserError(f"{source}: 'samples' must be >= 1 (Gumbel samples per node), got {opts.samples}")
        if opts.adc < 0:
            raise UserError(f"{source}: 'adc' must be >= 0, got {opts.adc}")

    def joint(self, kind: str) -> torch.Tensor:
        """``E x K``: per node, softmax over all (incoming edge, op) pairs."""
        logits = self.sampling_logits(kind)
        k = logits.shape[1]
        return torch.cat([F.softmax(logits[r0:r1].reshape(-1), 0).view(r1 - r0, k) for r0, r1 in self.node_rows])

    def sample_code(self, kind: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(p, b)``: the joint distribution and a straight-through binary code, both ``E x K``."""
        logits = self.sampling_logits(kind)
        k, m = logits.shape[1], self.opts.samples
        p_rows, b_rows = [], []
        for r0, r1 in self.node_rows:
            flat = logits[r0:r1].reshape(-1)
            draws, _ = hard_gumbel(flat.expand(m, -1), self.tau, self.gen)  # M x pairs
            b_rows.append(draws.max(0).values.view(r1 - r0, k))
            p_rows.append(F.softmax(flat, 0).view(r1 - r0, k))
        return torch.cat(p_rows), torch.cat(b_rows)

    def cell_weights(self, kind: str) -> CellWeights:
        p, b = self.sample_code(kind)
        hard = b.detach() > 0.5
        real = hard.clone()
        if self.none >= 0:
            real[:, self.none] = False
        counts = [max(int(real[r0:r1].sum()), 1) for r0, r1 in self.node_rows]
        weights = torch.cat([b[r0:r1] / n for (r0, r1), n in zip(self.node_rows, counts)])
        self._last[kind] = (p, weights)
        return CellWeights(weights, active_lists(real))

    def adc_loss(self) -> torch.Tensor:
        """``L1(p, (b / n).detach())`` of the normalised codes of the last forward pass, summed
        over cell kinds."""
        return sum(F.l1_loss(p, target.detach()) for p, target in (self._last[k] for k in KINDS))

    def arch_objective(self, x, y) -> torch.Tensor:
        loss = super().arch_objective(x, y)
        if self.opts.adc:
            loss = loss + self.opts.adc * self.adc_loss()
        return loss

    def probabilities(self, kind: str) -> torch.Tensor:
        with torch.no_grad():
            return self.joint(kind)

    def distributions(self, kind: str) -> List[torch.Tensor]:
        """One joint distribution per node, over its allowed (edge, op) pairs."""
        p, s = self.probabilities(kind).cpu(), self.support(kind).cpu()
        return [p[r0:r1][s[r0:r1]] for r0, r1 in self.node_rows]

    def cell_genotype(self, kind: str, max_parameter_free: Optional[int], notes: List[str]) -> CellGenotype:
        return derive_cell_topk(
            self.probabilities(kind),
            self.net.op_names,
            self.net.nodes,
            self.opts.samples,
            max_parameter_free=max_parameter_free,
            mask=self.support(kind),
            notes=notes,
        )
