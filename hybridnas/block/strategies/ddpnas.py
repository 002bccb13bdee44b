"""DDPNAS: dynamic distribution pruning - sample sub-nets, score ops by accuracy, prune.

Zheng, Ji et al. "Neural Architecture Search with Dynamic Distribution Pruning" (DDPNAS), IJCV
2022, https://arxiv.org/abs/1905.13543. Public code: MAC-AutoML/XNAS
``xnas/algorithms/SNG/DDPNAS.py`` (read, not copied).

A joint categorical distribution ``theta`` (``E x K`` per cell kind, uniform at the start) over
the ops of every edge. The search runs in rounds:

1. a *round* draws, per edge, the unpruned ops in a random order without replacement; the i-th
   sub-net of the round takes the i-th op of every edge, so each op is trained once per round;
2. each sub-net trains alone (single path: only its ops are computed) for ``subnet_steps`` weight
   steps, and its *accuracy* on the validation batches of those steps - measured by a forward
   pass without gradient before each weight step - is recorded for every (edge, op) it used (the
   public port fed the error here, which prunes the best op);
3. every ``rounds`` rounds: ``E = mean_r softmax_row(100 * P_r)``, ``v <- momentum * v +
   (1 - momentum) * E``, ``theta <- theta + v``; the least likely unpruned op of every edge is
   pruned (cleared in ``supernet.op_mask``) and ``theta`` is renormalised;
4. when one op per edge is left, the remaining steps train that network.

The paper trains each sub-net for an epoch. Here ``subnet_steps`` (default: fitted) spreads the
whole schedule over the member's ``block.epochs``: ``steps // (rounds * sum of the op counts
still to go)``, at least 1. With fewer steps than that sum, pruning stops where the budget ends and
the derivation reads ``theta`` as it is (the alpha log shows how far it got).

Derivation is the DARTS rule on the *edge strength*, not on ``theta`` itself: once pruning has
left one op per edge, ``theta`` is 1 on every edge and cannot rank the edges a node reads (every
node would read inputs 0 and 1). The strength of an op is its probability in the last update in
which its edge still had a choice, taken before that update's pruning: for a surviving op, its
share against the op it last beat (at least 1/2), for a pruned op the share it had when pruned
(at most 1/2). A node thus reads the edges whose survivors won most clearly. Pruned ops are
out of the search, but the collapse guard (``block.max_parameter_free``) may reinstate the
strongest of them - and the run output says so - when no parametric op the search kept is left
on an input a node could take. With ``budget`` set, derivation is
:func:`~hybridnas.block.derive.derive_block_under_budget`: the most likely block whose reference
network (the ``blocks.json`` ``net_params`` / ``net_macs`` at ``block.reference_width``) costs at
most ``budget`` params (or MACs, ``budget_metric: macs``) - the paper's generation of networks
under a budget from the learned distribution. A library sweeping ``budget`` gives blocks across
complexity, each from its own search.

``none`` is not sampled (nor scored) unless ``sample_none: true``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional

import torch
import torch.nn.functional as F

from ...config import BlockConfig, RunConfig
from ...errors import UserError
from ...space.costs import network_cost
from ...space.genotype import BlockGenotype, CellGenotype
from ...space.library import reference_spec
from ..derive import derive_block_under_budget, derive_cell, parameter_free_count
from ..supernet import KINDS, CellWeights, Supernet
from . import STRATEGIES
from .base import Batch, BlockStrategy
from .sampling import new_generator, sample_mask, single_path, uniform_choice


@dataclass(frozen=True)
class DdpnasOptions:
    rounds: int = 3
    """Rounds of sampling (each trains every unpruned op once) between two prunings, >= 1."""
    momentum: float = 0.9
    """Momentum of the distribution's update, in [0, 1)."""
    sharpness: float = 100.0
    """Sub-net accuracies are multiplied by this before each edge's softmax: higher trusts small
    accuracy differences more."""
    subnet_steps: Optional[int] = None
    """Weight steps per sampled sub-net, >= 1; null: fitted so pruning to one op per edge ends
    with ``block.epochs``."""
    sample_none: bool = False
    """Sample (and score) the ``none`` op too; off by default."""
    budget: Optional[float] = None
    """Derive the most likely block whose reference network (at ``block.reference_width``) costs
    at most this many params (or MACs, see ``budget_metric``); null: no budget, the DARTS rule."""
    budget_metric: Literal["params", "macs"] = "params"
    """What ``budget`` limits: parameters or multiply-accumulates."""


@STRATEGIES.register("ddpnas")
class Ddpnas(BlockStrategy):
    name = "ddpnas"
    Options = DdpnasOptions
    single_path = True

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        self.gen = new_generator()
        self.theta: Dict[str, torch.Tensor] = {}
        self.velocity: Dict[str, torch.Tensor] = {}
        for kind in KINDS:
            allowed = self._allowed(kind).float()
            self.theta[kind] = allowed / allowed.sum(-1, keepdim=True)
            self.velocity[kind] = torch.zeros_like(allowed)
        self.records: List[Dict[str, torch.Tensor]] = []  # P_r of the finished rounds since the last pruning
        self.round_record = self._empty_record()
        self.queues: Dict[str, List[List[int]]] = {}  # per edge, the ops still to train this round
        self.round_left = 0  # sub-nets left in this round
        self.choice: Optional[Dict[str, List[int]]] = None  # the sub-net in training
        self.sub_steps, self.sub_correct, self.sub_seen = 0, 0, 0
        self.subnet_steps: Optional[int] = self.opts.subnet_steps  # fitted at the first step when None
        self.prunings = 0
        # per op: its probability in the last update in which its edge still had a choice
        self.strength: Dict[str, torch.Tensor] = {k: v.clone() for k, v in self.theta.items()}
        self.pruned: Dict[str, torch.Tensor] = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in self.theta.items()}
        self._weights_cache: Dict[Any, CellWeights] = {}

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        if opts.rounds < 1:
            raise UserError(f"{source}: 'rounds' must be >= 1, got {opts.rounds}")
        if not 0 <= opts.momentum < 1:
            raise UserError(f"{source}: 'momentum' must be in [0, 1), got {opts.momentum}")
        if opts.subnet_steps is not None and opts.subnet_steps < 1:
            raise UserError(f"{source}: 'subnet_steps' must be >= 1 (or left out to fit the budget), "
                            f"got {opts.subnet_steps}")
        if opts.budget is not None and opts.budget <= 0:
            raise UserError(f"{source}: 'budget' must be > 0, got {opts.budget}")

    # ---------------------------------------------------------------- the distribution

    def _allowed(self, kind: str) -> torch.Tensor:
        return sample_mask(self.net, kind, self.opts.sample_none).cpu()

    def _empty_record(self) -> Dict[str, torch.Tensor]:
        return {k: torch.zeros_like(self.theta[k]) for k in KINDS}

    def probabilities(self, kind: str) -> torch.Tensor:
        t = self.theta[kind] * self._allowed(kind)
        return t / t.sum(-1, keepdim=True).clamp_min(1e-12)

    def support(self, kind: str) -> torch.Tensor:
        return self._allowed(kind)

    @classmethod
    def uniform_hint(cls, block_cfg: BlockConfig) -> str:
        return (f"raise block.epochs (now {block_cfg.epochs}) or lower the strategy's rounds, so that pruning gets "
                "further")

    def remaining(self) -> int:
        """Most unpruned ops on any edge (1: pruning is finished)."""
        return max(int(self._allowed(k).sum(-1).max()) for k in KINDS)

    def fit_subnet_steps(self) -> int:
        """Steps per sub-net so that pruning to one op per edge ends with the planned search
        (fitted when the search starts, to the ops then left - an outer shrink may have removed
        some; 1 without a plan)."""
        if self.subnet_steps is None:
            subnets = self.opts.rounds * sum(range(2, self.remaining() + 1))
            steps = self.plan.epochs * self.plan.steps_per_epoch if self.plan else 0
            self.subnet_steps = max(1, steps // max(subnets, 1))
        return self.subnet_steps

    def _next_subnet(self) -> Dict[str, List[int]]:
        """The next sub-net of the round: per edge, the next op of its shuffled queue. A round
        has as many sub-nets as the edge with the most unpruned ops; an edge with fewer ops
        (possible under an outer shrink) reshuffles its ops when it runs out."""
        if self.round_left == 0:
            self.queues = {k: [[] for _ in range(self.net.n_edges)] for k in KINDS}
            self.round_left = self.remaining()
        choice = {}
        for kind in KINDS:
            allowed = self._allowed(kind)
            picks = []
            for e, q in enumerate(self.queues[kind]):
                if not q:
                    ops = torch.nonzero(allowed[e]).flatten()
                    q.extend(ops[torch.randperm(len(ops), generator=self.gen)].tolist())
                picks.append(q.pop(0))
            choice[kind] = picks
        self.round_left -= 1
        return choice

    def _finish_subnet(self) -> None:
        acc = self.sub_correct / max(self.sub_seen, 1)
        for kind in KINDS:
            rows = torch.arange(len(self.choice[kind]))
            self.round_record[kind][rows, torch.as_tensor(self.choice[kind])] = acc
        self.choice = None
        self.sub_steps, self.sub_correct, self.sub_seen = 0, 0, 0
        if self.round_left == 0:  # every op of every edge had its turn
            self.records.append(self.round_record)
            self.round_record = self._empty_record()
            if len(self.records) >= self.opts.rounds:
                self.update_and_prune()

    def update_and_prune(self) -> None:
        """The momentum update of theta from the rounds' accuracy records, then one pruning per edge."""
        for kind in KINDS:
            allowed = self._allowed(kind)
            scores = torch.stack([F.softmax((self.opts.sharpness * r[kind]).masked_fill(~allowed, float("-inf")), -1)
                                  for r in self.records])
            expectation = scores.mean(0)
            m = self.opts.momentum
            self.velocity[kind] = (m * self.velocity[kind] + (1 - m) * expectation) * allowed
            theta = (self.theta[kind] + self.velocity[kind]) * allowed
            competing = allowed & (allowed.sum(-1, keepdim=True) > 1)
            shares = theta / theta.sum(-1, keepdim=True).clamp_min(1e-12)
            self.strength[kind] = torch.where(competing, shares, self.strength[kind])
            for e in range(theta.shape[0]):
                if int(allowed[e].sum()) > 1:
                    worst = int(theta[e].masked_fill(~allowed[e], float("inf")).argmin())
                    self.net.op_mask[KINDS.index(kind), e, worst] = False
                    self.pruned[kind][e, worst] = True
                    theta[e, worst] = 0.0
                    self.velocity[kind][e, worst] = 0.0
            self.theta[kind] = theta / theta.sum(-1, keepdim=True).clamp_min(1e-12)
        self.records = []
        self.prunings += 1

    # ---------------------------------------------------------------- training

    def cell_weights(self, kind: str) -> CellWeights:
        if self.choice is None:
            self.choice = self._next_subnet() if self.remaining() > 1 else self._final()
        key = (kind, tuple(self.choice[kind]))
        if key not in self._weights_cache:  # one sub-net serves many steps: build its weights once
            self._weights_cache = {k: v for k, v in self._weights_cache.items() if k[0] != kind}
            self._weights_cache[key] = single_path(self.choice[kind], len(self.net.op_names),
                                                   self.net.alphas[kind].device)
        return self._weights_cache[key]

    def _final(self) -> Dict[str, List[int]]:
        return {k: self._allowed(k).float().argmax(-1).tolist() for k in KINDS}

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        """No gradient: the sub-net's accuracy on the validation batch, for its record."""
        x, y = val
        with torch.no_grad():
            logits = self.forward(x)
        correct = int((logits.argmax(1) == y).sum())
        self.sub_correct += correct
        self.sub_seen += len(y)
        return {"val_acc": correct / max(len(y), 1)}

    def step(self, train: Batch, val: Batch) -> Dict[str, float]:
        metrics = super().step(train, val)
        self.sub_steps += 1
        if self.sub_steps >= self.fit_subnet_steps() and self.remaining() > 1:
            self._finish_subnet()
        return metrics

    def warmup_step(self, train: Batch) -> Dict[str, float]:
        """Uniform single-path training: a fresh sub-net every step."""
        self.choice = {k: uniform_choice(self._allowed(k), self.gen).tolist() for k in KINDS}
        try:
            return self.weight_step(train)
        finally:
            self.choice = None

    # ---------------------------------------------------------------- derivation

    def cell_genotype(self, kind: str, max_parameter_free: Optional[int], notes: List[str]) -> CellGenotype:
        return derive_cell(
            self.strength[kind],
            self.net.op_names,
            self.net.nodes,
            max_parameter_free=max_parameter_free,
            mask=self._allowed(kind),
            reserve=self.pruned[kind],
            notes=notes,
        )

    def derive_block(self, guarded: bool = True, notes: Optional[List[str]] = None) -> BlockGenotype:
        if self.opts.budget is None or not guarded:
            return super().derive_block(guarded, notes)
        n, c = self.net, self.cfg

        def cost(block: BlockGenotype) -> float:
            r = network_cost(reference_spec(block, c.cells, c.reference_width, n.nodes, n.in_chans, n.num_classes,
                                            n.image_size))
            return float(r.params if self.opts.budget_metric == "params" else r.macs)

        block, spent = derive_block_under_budget(
            {k: self.strength[k] for k in KINDS},
            n.op_names,
            n.nodes,
            cost,
            self.opts.budget,
            max_parameter_free=c.max_parameter_free,
            masks={k: self._allowed(k) for k in KINDS},
            notes=notes,
        )
        if spent > self.opts.budget:
            msg = (f"no block within budget {self.opts.budget:g} {self.opts.budget_metric}; "
                   f"the cheapest reachable costs {spent:g}")
            warnings.warn(f"ddpnas: {msg}", stacklevel=2)
            if notes is not None:
                notes.append(msg)
        free = {k: parameter_free_count(getattr(block, k)) for k in KINDS}
        over = {k: v for k, v in free.items() if v > c.max_parameter_free}
        if notes is not None and over:
            notes += [f"{k} cell: keeps {v} parameter-free ops against max_parameter_free {c.max_parameter_free}: "
                      f"the budget ({self.opts.budget:g} {self.opts.budget_metric}) takes precedence"
                      for k, v in over.items()]
        return block

    # ---------------------------------------------------------------- state

    def extra_state(self) -> Dict[str, Any]:
        return {
            "gen": self.gen.get_state(),
            "theta": dict(self.theta),
            "velocity": dict(self.velocity),
            "records": list(self.records),
            "round_record": dict(self.round_record),
            "queues": {k: [list(q) for q in v] for k, v in self.queues.items()},
            "round_left": self.round_left,
            "choice": None if self.choice is None else {k: list(v) for k, v in self.choice.items()},
            "sub": [self.sub_steps, self.sub_correct, self.sub_seen],
            "subnet_steps": self.subnet_steps,
            "prunings": self.prunings,
            "strength": dict(self.strength),
            "pruned": dict(self.pruned),
        }

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        if not state:
            return
        self.gen.set_state(state["gen"].cpu())
        # the stage loads checkpoints onto the run's device; the distribution lives on the CPU
        self.theta = {k: v.cpu() for k, v in state["theta"].items()}
        self.velocity = {k: v.cpu() for k, v in state["velocity"].items()}
        self.records = [{k: v.cpu() for k, v in r.items()} for r in state["records"]]
        self.round_record = {k: v.cpu() for k, v in state["round_record"].items()}
        self.queues = {k: [list(q) for q in v] for k, v in state["queues"].items()}
        self.round_left = int(state["round_left"])
        self.choice = None if state["choice"] is None else {k: list(v) for k, v in state["choice"].items()}
        self.sub_steps, self.sub_correct, self.sub_seen = state["sub"]
        self.subnet_steps = state["subnet_steps"]
        self.prunings = int(state["prunings"])
        if "strength" in state:
            self.strength = {k: v.cpu() for k, v in state["strength"].items()}
            self.pruned = {k: v.cpu() for k, v in state["pruned"].items()}
        else:  # a checkpoint of an older version: rank by theta, reinstate nothing
            self.strength = {k: v.clone() for k, v in self.theta.items()}
            self.pruned = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in self.theta.items()}
