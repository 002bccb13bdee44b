"""Angle-based search-space shrinking (ABS / PWSNAS), wrapped around any other strategy.

Hu, Zhang et al. "Angle-based Search Space Shrinking for Neural Architecture Search", ECCV 2020,
https://arxiv.org/abs/1908.05116 (and its journal extension PWSNAS). Public code:
megvii-model/AngleNAS (read, not copied).

``strategy: {name: shrink, inner: enhanced, keep: 3, lam: 0.4}``: keys that are not shrink's
own go to the inner strategy, checked against its options (so a library may sweep the inner
strategy's settings as usual). The member's search runs in two phases:

1. **shrinking**, ``(ops - keep) x epochs_per_round`` epochs: the supernet trains by uniform
   single-path sampling over the ops still in the space (alpha is not touched); after every
   ``epochs_per_round`` epochs, ``children`` sub-nets are drawn (every op of every edge in some of
   them), each op is scored by the mean angle of the children that contain it, and the
   lowest-scoring op of every edge with more than ``keep`` ops is removed from the space
   (``supernet.op_mask``);
2. **the inner strategy** runs the remaining epochs on what is left (its schedules - temperature,
   rounds - are fitted to those epochs).

The angle of a child is ``arccos(cos(V(W0), V(Wt)))``. ``W0`` are the supernet's weights when the
member's search starts (with ``block.warmup_epochs: 0`` its initialisation, as in ABS; after a
warm-up, the warm weights); they are kept in the checkpoint and never re-drawn. ``V(W)`` is the
child's weight vector: for every path from a cell input to an intermediate node (all of them are
concatenated into the cell's output), the flattened weights of the ops along it; ``none`` breaks a
path, ``skip`` adds nothing, pooling adds a fixed averaging kernel (``C x 9`` entries of 1/9);
then the stem, classifier and input preprocessing. Concatenation means the dot product and the
norms are sums over paths, so the angle is computed from per-op sums times the number of paths
through each edge, never building ``V``.

``none`` is neither sampled nor scored nor removed here: it stays for the inner strategy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Set, Tuple

import torch

from ...config import BlockConfig, RunConfig
from ...errors import UserError
from ...space.genotype import edge_index
from ..supernet import KINDS, CellWeights, Supernet
from . import STRATEGIES
from .base import Batch, BlockStrategy, build_strategy
from .sampling import new_generator, sample_mask, single_path, uniform_choice


@dataclass(frozen=True)
class ShrinkOptions:
    """Every key that is not one of these goes to the inner strategy, checked against its options
    (so a library may sweep the inner strategy's settings as usual)."""

    inner: str = "enhanced"
    """The strategy that searches what shrinking leaves (any strategy but ``shrink``); its options
    are written beside shrink's own."""
    keep: int = 3
    """Ops (other than ``none``) left on every edge when shrinking ends, >= 1."""
    epochs_per_round: int = 1
    """Epochs of uniform single-path training before each removal, >= 1. Shrinking takes
    ``(ops - keep) x epochs_per_round`` epochs, which must leave some of ``block.epochs``."""
    children: int = 64
    """Sub-nets drawn per round to score the ops by their angle, >= 1."""
    inner_options: Mapping[str, Any] = field(default_factory=dict)
    """The inner strategy's options, filled from the keys that are not shrink's own (written here
    directly, they count too)."""


POOL_ENTRY = 1.0 / 9.0  # a pooling op counts as a fixed 3x3 averaging kernel per channel


@STRATEGIES.register("shrink")
class Shrink(BlockStrategy):
    name = "shrink"
    Options = ShrinkOptions
    single_path = False

    # ---------------------------------------------------------------- options

    @classmethod
    def _inner_cls(cls, name: str, source: str):
        from . import STRATEGIES as registry

        if name == cls.name:
            raise UserError(f"{source}: 'inner' cannot be shrink itself; "
                            "name the strategy to run after shrinking, e.g. enhanced")
        return registry.get(name, key=f"{source}: inner")

    @classmethod
    def parse_options(cls, options: Mapping[str, Any], source: str):
        own_names = {f.name for f in dataclasses.fields(ShrinkOptions)} - {"inner_options"}
        own = {k: v for k, v in options.items() if k in own_names}
        nested = dict(options.get("inner_options") or {})
        rest = {k: v for k, v in options.items() if k not in own_names and k != "inner_options"}
        opts = super().parse_options(own, source)
        inner = cls._inner_cls(opts.inner, source)
        inner_raw = {**nested, **rest}
        inner.parse_options(inner_raw, f"{source} (inner strategy '{opts.inner}')")  # checks every key
        return dataclasses.replace(opts, inner_options=inner_raw)

    @classmethod
    def option_names(cls, options: Mapping[str, Any]) -> Set[str]:
        inner = cls._inner_cls(str(options.get("inner", ShrinkOptions.inner)), "block.strategy")
        return {f.name for f in dataclasses.fields(ShrinkOptions)} | inner.option_names(options)

    @classmethod
    def uniform_hint(cls, block_cfg: BlockConfig) -> str:
        inner = str(dict(block_cfg.strategy.options).get("inner", ShrinkOptions.inner))
        return cls._inner_cls(inner, "block.strategy").uniform_hint(block_cfg)

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        for key in ("keep", "epochs_per_round", "children"):
            if getattr(opts, key) < 1:
                raise UserError(f"{source}: '{key}' must be >= 1, got {getattr(opts, key)}")
        inner = cls._inner_cls(opts.inner, source)
        inner.check_options(inner.parse_options(opts.inner_options, source), run_cfg,
                            f"{source} (inner '{opts.inner}')")
        n_ops = sum(1 for op in run_cfg.cell.ops if op != "none")
        epochs = max(n_ops - opts.keep, 0) * opts.epochs_per_round
        if epochs >= run_cfg.block.epochs:
            raise UserError(
                f"{source}: shrinking {n_ops} ops to keep {opts.keep} takes {epochs} epochs, leaving none of "
                f"block.epochs ({run_cfg.block.epochs}) for the inner strategy; raise block.epochs or keep, "
                f"or lower epochs_per_round"
            )

    # ---------------------------------------------------------------- setup

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        self.inner = build_strategy(self.opts.inner, supernet, cfg, self.opts.inner_options)
        # one set of optimisers: the inner strategy's (its momentum carries over from shrinking)
        self.w_opt, self.a_opt = self.inner.w_opt, self.inner.a_opt
        self.gen = new_generator()
        self.w0 = {n: p.detach().clone() for n, p in self._weights()}
        self.rounds_total = max(self._ops_per_edge() - self.opts.keep, 0)
        self.rounds_done = 0
        self.epochs_in_round = 0
        self.dropped: List[List[Any]] = []  # [round, kind, edge, op] per removed op

    def _weights(self):
        return ((n, p) for n, p in self.net.named_parameters() if not n.startswith("alphas."))

    def _allowed(self, kind: str) -> torch.Tensor:
        return sample_mask(self.net, kind, keep_none=False).cpu()

    def _ops_per_edge(self) -> int:
        return max(int(self._allowed(k).sum(-1).max()) for k in KINDS)

    @property
    def shrinking(self) -> bool:
        return self.rounds_done < self.rounds_total

    def begin_search(self, first_epoch: int, epochs: int, steps_per_epoch: int) -> None:
        super().begin_search(first_epoch, epochs, steps_per_epoch)
        spent = (self.rounds_total - self.rounds_done) * self.opts.epochs_per_round
        self.inner.begin_search(first_epoch + spent, max(epochs - spent, 1), steps_per_epoch)

    # ---------------------------------------------------------------- training

    def cell_weights(self, kind: str) -> CellWeights:
        if not self.shrinking:
            return self.inner.cell_weights(kind)
        choice = uniform_choice(self._allowed(kind), self.gen)
        return single_path(choice.tolist(), len(self.net.op_names), self.net.alphas[kind].device)

    def step(self, train: Batch, val: Batch) -> Dict[str, float]:
        if self.shrinking:
            return self.weight_step(train)
        return self.inner.step(train, val)

    def warmup_step(self, train: Batch) -> Dict[str, float]:
        return self.weight_step(train) if self.shrinking else self.inner.warmup_step(train)

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        return {} if self.shrinking else self.inner.arch_step(train, val)

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        self.epoch, self.epochs = epoch, max(epochs, 1)
        self.inner.begin_epoch(epoch, epochs)

    def end_epoch(self) -> Dict[str, float]:
        if not self.shrinking:
            return self.inner.end_epoch()
        self.epochs_in_round += 1
        if self.epochs_in_round < self.opts.epochs_per_round:
            return {}
        self.epochs_in_round = 0
        scores = self.op_scores()
        self.drop_weakest(scores)
        self.rounds_done += 1
        return {"shrink_round": float(self.rounds_done)}

    def probabilities(self, kind: str) -> torch.Tensor:
        return self.inner.probabilities(kind)

    def support(self, kind: str) -> torch.Tensor:
        return self.inner.support(kind)

    def distributions(self, kind: str):
        return self.inner.distributions(kind)

    def derive_block(self, guarded: bool = True, notes=None):
        return self.inner.derive_block(guarded, notes)

    # ---------------------------------------------------------------- the angle

    def op_sums(self) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
        """Per cell kind, ``E x K x 3``: ``(<w0, wt>, |w0|^2, |wt|^2)`` of each op's weights summed
        over the cells of that kind; and the same three sums over the weights outside the edges
        (stem, classifier, preprocessing). Float64, so the angle of unchanged weights is 0."""
        n_edges, n_ops = self.net.n_edges, len(self.net.op_names)
        sums = {k: torch.zeros(n_edges, n_ops, 3, dtype=torch.float64) for k in KINDS}
        extra = torch.zeros(3, dtype=torch.float64)
        on_edges = set()
        for ci, cell in enumerate(self.net.cells):
            kind = "reduce" if cell.reduction else "normal"
            for e, mixed in enumerate(cell.edges):
                for o, op in enumerate(mixed.ops):
                    name = self.net.op_names[o]
                    if "pool" in name:
                        fixed = cell.plan.c * 9 * POOL_ENTRY**2
                        sums[kind][e, o] += torch.tensor([fixed, fixed, fixed], dtype=torch.float64)
                    for pn, p in op.named_parameters():
                        full = f"cells.{ci}.edges.{e}.ops.{o}.{pn}"
                        on_edges.add(full)
                        sums[kind][e, o] += _dots(self.w0[full], p)
        for n, p in self._weights():
            if n not in on_edges:
                extra += _dots(self.w0[n], p)
        return sums, extra

    def path_counts(self, choice: torch.Tensor) -> torch.Tensor:
        """``N x E`` number of input-to-node paths through each edge of ``N`` children
        (``choice`` is ``N x E`` op indices): paths into the edge's source times paths from its
        target onwards, every intermediate node ending one path. ``none`` breaks paths."""
        nodes = self.net.nodes
        edges = edge_index(nodes)
        live = torch.ones_like(choice, dtype=torch.float64)
        if "none" in self.net.op_names:
            live = (choice != self.net.op_names.index("none")).double()
        n = choice.shape[0]
        into = [torch.ones(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)]
        for i in range(2, nodes + 2):
            into.append(sum(live[:, e] * into[j] for e, (t, j) in enumerate(edges) if t == i))
        onward = [None] * (nodes + 2)
        for i in range(nodes + 1, -1, -1):
            out = torch.ones(n, dtype=torch.float64) if i >= 2 else torch.zeros(n, dtype=torch.float64)
            for e, (t, j) in enumerate(edges):
                if j == i:
                    out = out + live[:, e] * onward[t]
            onward[i] = out
        return torch.stack([live[:, e] * into[j] * onward[t] for e, (t, j) in enumerate(edges)], dim=1)

    def angles(self, children: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Angle (radians) between ``V(W0)`` and ``V(Wt)`` of each child; ``children[kind]`` is
        ``N x E`` op indices."""
        sums, extra = self.op_sums()
        total = extra.expand(next(iter(children.values())).shape[0], 3).clone()
        for kind, choice in children.items():
            per_edge = sums[kind][torch.arange(choice.shape[1]), choice]  # N x E x 3
            total += (self.path_counts(choice).unsqueeze(-1) * per_edge).sum(1)
        cos = total[:, 0] / (total[:, 1] * total[:, 2]).sqrt().clamp_min(1e-300)
        return torch.arccos(cos.clamp(-1.0, 1.0))

    def sample_children(self, n: int) -> Dict[str, torch.Tensor]:
        """``n`` children; on every edge, the allowed ops in shuffled turns, so each op of each
        edge is in about ``n / ops`` of them (and in at least one when ``n >= ops``)."""
        out = {}
        for kind in KINDS:
            allowed = self._allowed(kind)
            cols = []
            for e in range(allowed.shape[0]):
                ops = torch.nonzero(allowed[e]).flatten()
                reps = math.ceil(n / len(ops))
                seq = torch.cat([ops[torch.randperm(len(ops), generator=self.gen)] for _ in range(reps)])[:n]
                cols.append(seq[torch.randperm(n, generator=self.gen)])
            out[kind] = torch.stack(cols, dim=1)
        return out

    def op_scores(self) -> Dict[str, torch.Tensor]:
        """``E x K`` mean angle of the sampled children containing each op (NaN: not sampled)."""
        children = self.sample_children(max(self.opts.children, self._ops_per_edge()))
        with torch.no_grad():
            angle = self.angles(children)
        scores = {}
        for kind, choice in children.items():
            k = len(self.net.op_names)
            onehot = torch.nn.functional.one_hot(choice, k).double()  # N x E x K
            count = onehot.sum(0)
            scores[kind] = (onehot * angle[:, None, None]).sum(0) / count.where(count > 0, torch.nan)
        return scores

    def drop_weakest(self, scores: Dict[str, torch.Tensor]) -> None:
        """Remove the lowest-scoring op of every edge that has more than ``keep`` ops."""
        for kind in KINDS:
            allowed = self._allowed(kind)
            for e in range(allowed.shape[0]):
                if int(allowed[e].sum()) <= self.opts.keep:
                    continue
                s = scores[kind][e].masked_fill(~allowed[e], float("inf")).nan_to_num(nan=float("inf"))
                worst = int(s.argmin())
                self.net.op_mask[KINDS.index(kind), e, worst] = False
                self.dropped.append([self.rounds_done, kind, e, self.net.op_names[worst]])

    # ---------------------------------------------------------------- state

    def state_dict(self) -> Dict[str, Any]:
        return {"inner": self.inner.state_dict(), "extra": self.extra_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> Dict[str, Any]:
        return {
            "w0": dict(self.w0),
            "gen": self.gen.get_state(),
            "rounds": [self.rounds_total, self.rounds_done, self.epochs_in_round],
            "dropped": [list(d) for d in self.dropped],
        }

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        if not state:
            return
        dev = next(iter(self.w0.values())).device
        self.w0 = {k: v.to(dev) for k, v in state["w0"].items()}
        self.gen.set_state(state["gen"].cpu())
        self.rounds_total, self.rounds_done, self.epochs_in_round = (int(v) for v in state["rounds"])
        self.dropped = [list(d) for d in state["dropped"]]


def _dots(w0: torch.Tensor, wt: torch.Tensor) -> torch.Tensor:
    a, b = w0.detach().double().flatten(), wt.detach().double().flatten()
    return torch.stack([a @ b, a @ a, b @ b]).cpu()
