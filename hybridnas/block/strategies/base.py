"""The block-strategy interface.

A strategy decides two things about a search on the shared supernet: how the ops of an edge are
mixed in the forward pass (:meth:`BlockStrategy.cell_weights`), and how the architecture
(alpha, or a distribution) is updated (:meth:`BlockStrategy.arch_step`). Everything else - the
optimisers, the weight step, clipping, derivation, checkpoint state - lives here once.

The block stage drives a strategy like this:

1. ``s = Strategy(supernet, block_cfg, options)`` (options are checked against ``Options``);
2. before a member's bilevel epochs: ``begin_search(first_epoch, epochs, steps_per_epoch)`` (the
   plan, for strategies with their own schedule: temperatures, rounds, pruning); then each epoch:
   ``begin_epoch(epoch, epochs)``; per pair of batches ``step(train, val)`` (``warmup_step(train)``
   during the shared warm-up); then ``end_epoch()``;
3. ``derive()`` returns the :class:`~hybridnas.space.genotype.BlockGenotype`; ``derivation()``
   also gives the block without the collapse guard (what ``skip_stop`` counts) and the guard's
   notes; ``probabilities(kind)`` and ``distributions(kind)`` feed the logs, heat-maps and the
   stage's health check;
4. ``state_dict()`` / ``load_state_dict()`` carry its state across a resume (a strategy with
   state of its own - a distribution, a second network, a random generator - puts it in
   ``extra_state()``).

Options come from ``block.strategy`` and the library member's overrides; ``parse_options`` turns
them into the strategy's frozen ``Options`` (a wrapper such as ``shrink`` also accepts its inner
strategy's), and ``check_options`` checks them against the rest of the run configuration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

import torch
import torch.nn.functional as F

from ...config import MEMBER_KEYS, BlockConfig, RunConfig, from_dict
from ...space.genotype import BlockGenotype, CellGenotype
from ...training import cosine_lr
from ..derive import derive_cell
from ..supernet import KINDS, CellWeights, Supernet


@dataclass(frozen=True)
class NoOptions:
    pass


Batch = Tuple[torch.Tensor, torch.Tensor]


class SearchPlan(NamedTuple):
    """What the stage will run for one library member: ``epochs`` bilevel epochs of about
    ``steps_per_epoch`` steps, the first numbered ``first_epoch`` in ``begin_epoch``."""

    first_epoch: int
    epochs: int
    steps_per_epoch: int


class Derivation(NamedTuple):
    """What a strategy derives now. ``block``: its rule with the collapse guard (and any budget)
    applied - what the library keeps; ``unguarded``: the same rule without them - what the
    distribution itself prefers, where ``skip_stop`` counts skip connections (counted after the
    guard, they could never exceed ``max_parameter_free``); ``notes``: what the guard could not
    do, or did beyond swapping ops, and why (one line each, naming the cell)."""

    block: BlockGenotype
    unguarded: BlockGenotype
    notes: Tuple[str, ...]


class BlockStrategy:
    name = "base"
    Options: type = NoOptions
    #: True when the strategy computes only sampled ops (single-path); informs memory estimates
    single_path = False

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        self.net = supernet
        self.cfg = cfg
        self.opts = self.parse_options(options, source=f"block.strategy '{self.name}'")
        self.w_opt = torch.optim.SGD(
            list(supernet.weight_parameters()), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        self.a_opt = torch.optim.Adam(
            supernet.arch_parameters(), lr=cfg.arch_lr, betas=tuple(cfg.arch_betas), weight_decay=cfg.arch_weight_decay
        )
        self.epoch, self.epochs = 0, 1
        self.plan: Optional[SearchPlan] = None

    # ---------------------------------------------------------------- configuration

    @classmethod
    def parse_options(cls, options: Mapping[str, Any], source: str):
        """The typed ``Options`` from plain option values; unknown keys and bad types are errors."""
        return from_dict(cls.Options, dict(options), source=source)

    @classmethod
    def option_names(cls, options: Mapping[str, Any]) -> Set[str]:
        """The option keys this strategy accepts, given the options it is configured with."""
        return {f.name for f in dataclasses.fields(cls.Options)}

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        """Check parsed options against the rest of the run (op set, epochs); raise UserError."""

    @classmethod
    def check_config(cls, run_cfg: RunConfig, source: str = "config") -> None:
        """Check the base options and every library member's overrides against ``Options``."""
        for i, member in enumerate(run_cfg.block.library):
            merged = member_options(run_cfg.block.strategy.options, member)
            where = f"{source}: block.library[{i}] ({cls.name} options)"
            cls.check_options(cls.parse_options(merged, source=where), run_cfg, where)

    # ---------------------------------------------------------------- hooks

    def masked_alpha(self, kind: str) -> torch.Tensor:
        """alpha with ops removed from the space set to -inf (so softmax gives them 0)."""
        a = self.net.alphas[kind]
        return a.masked_fill(~self.net.mask(kind), float("-inf"))

    def cell_weights(self, kind: str) -> CellWeights:
        """How ops are mixed: DARTS's softmax over alpha by default."""
        return CellWeights(F.softmax(self.masked_alpha(kind), dim=-1))

    def probabilities(self, kind: str) -> torch.Tensor:
        """``E x K`` op probabilities (detached), for derivation, logs and plots."""
        with torch.no_grad():
            return F.softmax(self.masked_alpha(kind), dim=-1)

    def support(self, kind: str) -> torch.Tensor:
        """``E x K``: the entries ``probabilities`` may give weight to (the ops still in the space)."""
        return self.net.mask(kind)

    def distributions(self, kind: str) -> List[torch.Tensor]:
        """The probability vectors the strategy samples or mixes from, each over its support: one
        per edge here (a strategy with joint distributions over several edges groups them)."""
        p, s = self.probabilities(kind).cpu(), self.support(kind).cpu()
        return [row[m] for row, m in zip(p, s)]

    @classmethod
    def uniform_hint(cls, block_cfg: BlockConfig) -> str:
        """What to change when the op probabilities stay near uniform (for the health check)."""
        return (f"raise block.arch_lr (now {block_cfg.arch_lr:g}) or block.epochs (now {block_cfg.epochs}) so the "
                "architecture can move")

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        raise NotImplementedError

    # ---------------------------------------------------------------- shared steps

    def weights(self) -> Dict[str, CellWeights]:
        return {k: self.cell_weights(k) for k in KINDS}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.weights())

    def loss(self, x, y) -> Tuple[torch.Tensor, torch.Tensor]:
        logits = self.forward(x)
        return F.cross_entropy(logits, y), logits

    def weight_step(self, train: Batch) -> Dict[str, float]:
        x, y = train
        self.w_opt.zero_grad(set_to_none=True)
        loss, logits = self.loss(x, y)
        loss.backward()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.w_opt.param_groups[0]["params"], self.cfg.grad_clip)
        self.w_opt.step()
        for a in self.net.arch_parameters():  # the weight step must not leave grads on alpha
            a.grad = None
        return {"loss": loss.item(), "acc": float((logits.argmax(1) == y).float().mean())}

    def step(self, train: Batch, val: Batch) -> Dict[str, float]:
        metrics = self.arch_step(train, val)
        metrics.update(self.weight_step(train))
        return metrics

    def warmup_step(self, train: Batch) -> Dict[str, float]:
        return self.weight_step(train)

    def begin_search(self, first_epoch: int, epochs: int, steps_per_epoch: int) -> None:
        """Called by the stage before a member's bilevel epochs (before any resume state is
        loaded, so a strategy may keep what it derives from the plan in its state)."""
        self.plan = SearchPlan(int(first_epoch), max(int(epochs), 1), max(int(steps_per_epoch), 1))

    @property
    def progress(self) -> float:
        """How far the bilevel search is at the current epoch: 0.0 at its first epoch, 1.0 at
        its last (without a plan: over the epochs ``begin_epoch`` was told about)."""
        first, epochs = (self.plan.first_epoch, self.plan.epochs) if self.plan else (0, self.epochs)
        return min(max((self.epoch - first) / max(epochs - 1, 1), 0.0), 1.0)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Set the epoch's schedule: cosine learning rate of the weights."""
        self.epoch, self.epochs = epoch, max(epochs, 1)
        lr = cosine_lr(self.cfg.lr, self.cfg.lr_min, epoch, self.epochs)
        for g in self.w_opt.param_groups:
            g["lr"] = lr

    def end_epoch(self) -> Dict[str, float]:
        return {}

    def derive(self) -> BlockGenotype:
        """The block this search gives now (collapse guard applied)."""
        return self.derive_block(guarded=True)

    def derivation(self) -> Derivation:
        notes: List[str] = []
        block = self.derive_block(guarded=True, notes=notes)
        return Derivation(block, self.derive_block(guarded=False), tuple(notes))

    def derive_block(self, guarded: bool = True, notes: Optional[List[str]] = None) -> BlockGenotype:
        """Both cells by :meth:`cell_genotype`; ``guarded`` applies ``block.max_parameter_free``."""
        cells = {}
        for kind in KINDS:
            cell_notes: List[str] = []
            cells[kind] = self.cell_genotype(kind, self.cfg.max_parameter_free if guarded else None, cell_notes)
            if notes is not None:
                notes += [f"{kind} cell: {n}" for n in cell_notes]
        return BlockGenotype(cells["normal"], cells["reduce"])

    def cell_genotype(self, kind: str, max_parameter_free: Optional[int], notes: List[str]) -> CellGenotype:
        """The derivation rule of one cell kind: DARTS's, on ``probabilities``."""
        return derive_cell(
            self.probabilities(kind),
            self.net.op_names,
            self.net.nodes,
            max_parameter_free=max_parameter_free,
            mask=self.net.mask(kind),
            notes=notes,
        )

    @property
    def lr(self) -> float:
        return self.w_opt.param_groups[0]["lr"]

    # ---------------------------------------------------------------- state

    def extra_state(self) -> Dict[str, Any]:
        return {}

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        pass

    def state_dict(self) -> Dict[str, Any]:
        return {"w_opt": self.w_opt.state_dict(), "a_opt": self.a_opt.state_dict(), "extra": self.extra_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.load_extra_state(state.get("extra", {}))


def member_options(strategy_options: Mapping[str, Any], member: Mapping[str, Any]) -> Dict[str, Any]:
    """A library member's strategy options: ``block.strategy``'s, with the member's overrides on
    top (its own keys, such as ``seed``, are not strategy options and are left out)."""
    return {**dict(strategy_options), **{k: v for k, v in member.items() if k not in MEMBER_KEYS}}


def set_grads(params: Sequence[torch.Tensor], grads: Sequence[Optional[torch.Tensor]]) -> None:
    """Hand ``torch.autograd.grad``'s gradients to an optimiser (``None``: the parameter was not
    used, and the optimiser leaves it alone)."""
    for p, g in zip(params, grads):
        p.grad = g


def build_strategy(name: str, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]) -> BlockStrategy:
    from . import STRATEGIES

    return STRATEGIES.get(name, key="block.strategy")(supernet, cfg, options)
