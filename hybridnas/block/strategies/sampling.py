"""Sampling shared by the strategies that draw architectures instead of mixing every op
(gdas, egs, ddpnas, and the uniform single-path training of shrink).

* Randomness comes from a generator the strategy owns (:func:`new_generator`) and saves in its
  state, so a resumed search draws what an uninterrupted one would have drawn.
* ``none`` is left out of what is sampled (:func:`sample_mask`) unless a strategy is told to keep
  it: a single sampled path through ``none`` zeroes a node, and single-path Gumbel search with
  ``none`` collapses to it (seen on digits, see DESIGN.md).
* :func:`hard_gumbel` is the straight-through Gumbel-softmax sample: one-hot forward, the soft
  sample's gradient backward.
* :class:`GumbelDarts` is what gdas and egs share: DARTS's alternating first-order steps, the generator in the
  checkpoint, the temperature annealed linearly from ``tau_max`` to ``tau_min`` over the search,
  alpha with ops that may not be sampled at -inf.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Tuple

import torch
import torch.nn.functional as F

from ...config import BlockConfig, RunConfig
from ...errors import UserError
from ..supernet import CellWeights, Supernet
from .darts import GradientDarts


def new_generator() -> torch.Generator:
    """A CPU generator seeded from torch's global generator (itself seeded by the run)."""
    g = torch.Generator()
    g.manual_seed(int(torch.randint(0, 2**31 - 1, (1,)).item()))
    return g


def sample_mask(net: Supernet, kind: str, keep_none: bool = False) -> torch.Tensor:
    """``E x K`` ops that may be sampled: those still in the space, without ``none`` unless
    ``keep_none``. An edge left with ``none`` alone keeps it (it still needs an op)."""
    mask = net.mask(kind).clone()
    if not keep_none and "none" in net.op_names:
        k = net.op_names.index("none")
        only_none = mask.sum(-1) == mask[:, k].long()
        mask[~only_none, k] = False
    return mask


def gumbel(shape: Sequence[int], gen: torch.Generator, device) -> torch.Tensor:
    u = torch.rand(tuple(shape), generator=gen).clamp_(1e-10, 1.0 - 1e-7)
    return (-torch.log(-torch.log(u))).to(device)


def hard_gumbel(logits: torch.Tensor, tau: float, gen: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor]:
    """One straight-through Gumbel-softmax sample along the last dimension.

    Returns ``(sample, index)``: ``sample`` is exactly one-hot in the forward pass and carries the
    gradient of ``softmax((logits + g) / tau)``; ``index`` is the chosen entry. Entries at -inf
    are never chosen.
    """
    z = logits + gumbel(logits.shape, gen, logits.device)
    soft = F.softmax(z / tau, dim=-1)
    index = z.detach().argmax(-1)
    hard = F.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft, index


def uniform_choice(mask: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One allowed op per row of an ``E x K`` boolean mask, uniformly."""
    w = mask.detach().cpu().float()
    return torch.multinomial(w, 1, generator=gen).squeeze(-1)


def single_path(choice: Sequence[int], n_ops: int, device) -> CellWeights:
    """Weights that compute exactly op ``choice[e]`` on edge ``e`` with weight 1."""
    idx = torch.as_tensor([int(c) for c in choice], dtype=torch.long)
    w = F.one_hot(idx, n_ops).float().to(device)
    return CellWeights(w, [[int(c)] for c in choice])


def active_lists(code: torch.Tensor) -> List[List[int]]:
    """Per edge, the ops whose entry in a (detached) 0/1 code is set."""
    rows = code.detach().cpu() > 0.5
    return [torch.nonzero(r).flatten().tolist() for r in rows]


class GumbelDarts(GradientDarts):
    """Base of the Gumbel strategies (not registered). Options need ``tau_max``, ``tau_min``,
    ``sample_none``."""

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        self.gen = new_generator()

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        if not 0 < opts.tau_min <= opts.tau_max:
            raise UserError(f"{source}: need 0 < tau_min <= tau_max, "
                            f"got tau_min {opts.tau_min}, tau_max {opts.tau_max}")

    @property
    def tau(self) -> float:
        return self.opts.tau_max + (self.opts.tau_min - self.opts.tau_max) * self.progress

    def sampling_logits(self, kind: str) -> torch.Tensor:
        """alpha with the ops that may not be sampled (removed, or ``none``) at -inf."""
        a = self.net.alphas[kind]
        return a.masked_fill(~sample_mask(self.net, kind, self.opts.sample_none).to(a.device), float("-inf"))

    def support(self, kind: str) -> torch.Tensor:
        return sample_mask(self.net, kind, self.opts.sample_none)

    def extra_state(self) -> Dict[str, Any]:
        return {"gen": self.gen.get_state()}

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        if "gen" in state:
            self.gen.set_state(state["gen"].cpu())  # checkpoints are loaded onto the run's device
