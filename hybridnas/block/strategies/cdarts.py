"""CDARTS: cyclic search between the supernet and an evaluation network built from its genotype.

Yu, Peng et al. "Cyclic Differentiable Architecture Search", TPAMI 2023,
https://arxiv.org/abs/2006.10724. Public code: microsoft/Cream ``CDARTS/`` (read, not copied).

Two networks share the stem: the search network (the supernet, ops mixed by ``softmax(alpha)``)
and an evaluation network - a discrete :class:`~hybridnas.space.builder.Network` of the
supernet's layout (``eval_cells`` deep) built from the genotype the search network derives now.
The cycle:

1. every ``cycle_epochs`` epochs, derive the genotype and (if it changed) rebuild the evaluation
   network, copying every weight that still matches: an op on the same (cell, node, input) from
   the previous evaluation network, else the same op's weights from the supernet's edge;
   preprocessing and classifier by name and shape. A rebuilt network first trains alone for
   ``warmup_steps`` cross-entropy steps on validation batches;
2. a joint step on the validation batch updates alpha and the evaluation network:
   ``L = [CE(z_s) + CE(z_e)] / a + a T^2 KL(softmax(z_e / T) || softmax(z_s / T)) + L_reg``
   (the KL is the batch mean; ``detach_teacher`` - the default - stops its gradient at the
   evaluation network, as a distillation target; ``false`` makes it mutual, as the public code
   does); ``L_reg = reg * max(0, 1 - progress / reg_ratio) * sum |alpha|`` of the parameter-free
   ops (pooling, skip), decaying to 0 over the first ``reg_ratio`` of the search;
3. a cross-entropy step on the training batch updates the search network's weights.

The public code's logits are ensembles of auxiliary heads and the final classifier; hybridnas
networks have no auxiliary heads, so ``z`` are the final logits. The shared stem is trained by
the search network's step only (the evaluation network's optimiser leaves it out, so validation
data never trains the search weights). Derivation is the DARTS rule on ``softmax(alpha)``.
Memory: two networks' activations at once, about twice a DARTS step's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...config import BlockConfig, RunConfig
from ...errors import UserError
from ...space.builder import build_network
from ...space.genotype import BlockGenotype
from ...space.library import reference_spec
from ..supernet import KINDS, Supernet
from . import STRATEGIES
from .base import Batch, BlockStrategy, set_grads


@dataclass(frozen=True)
class CdartsOptions:
    temperature: float = 2.0
    """T of the distillation between the two networks' logits, > 0."""
    balance: float = 1.0
    """a, > 0: the cross-entropy terms are divided by it, the distillation term multiplied."""
    detach_teacher: bool = True
    """Stop the distillation's gradient at the evaluation network (a fixed target); false makes
    the distillation mutual, as the public code does."""
    reg: float = 5.0
    """L1 weight on the alpha of parameter-free ops (pooling, skip) at the start, >= 0."""
    reg_ratio: float = 0.5
    """The L1 weight decays linearly to 0 over this fraction of the search, in (0, 1]."""
    eval_cells: Optional[int] = None
    """Depth in cells of the evaluation network, >= 3; null: ``block.cells``."""
    cycle_epochs: int = 1
    """Epochs between two derivations (and rebuilds) of the evaluation network, > 0."""
    warmup_steps: int = 10
    """Cross-entropy steps a rebuilt evaluation network trains alone first, >= 0."""
    eval_lr: Optional[float] = None
    """Learning rate of the evaluation network, on the search network's cosine schedule; null:
    ``block.lr``."""


def cdarts_loss(
    z_search: torch.Tensor,
    z_eval: torch.Tensor,
    y: torch.Tensor,
    temperature: float = 2.0,
    balance: float = 1.0,
    detach_teacher: bool = True,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """``[CE(z_s) + CE(z_e)] / a + a T^2 KL(softmax(z_e/T) || softmax(z_s/T))``, KL batch-mean."""
    t, a = temperature, balance
    ce = (F.cross_entropy(z_search, y) + F.cross_entropy(z_eval, y)) / a
    teacher = z_eval.detach() if detach_teacher else z_eval
    kl = F.kl_div(F.log_softmax(z_search / t, dim=1), F.log_softmax(teacher / t, dim=1), reduction="batchmean",
                  log_target=True)
    kd = a * t * t * kl
    return ce + kd, {"ce": ce, "kd": kd}


@STRATEGIES.register("cdarts")
class Cdarts(BlockStrategy):
    name = "cdarts"
    Options = CdartsOptions

    def __init__(self, supernet: Supernet, cfg: BlockConfig, options: Mapping[str, Any]):
        super().__init__(supernet, cfg, options)
        free = supernet.parameter_free().clone()
        if "none" in supernet.op_names:  # none is not an op the derivation can pick; leave it alone
            free[supernet.op_names.index("none")] = False
        self.free = free.to(supernet.alphas["normal"].device)
        self.eval_net: Optional[nn.Module] = None
        self.e_opt: Optional[torch.optim.Optimizer] = None
        self.genotype: Optional[str] = None
        self.eval_warm_left = 0
        self.refresh = True  # derive and (re)build before the next joint step

    @classmethod
    def check_options(cls, opts, run_cfg: RunConfig, source: str) -> None:
        for key in ("temperature", "balance", "cycle_epochs"):
            if getattr(opts, key) <= 0:
                raise UserError(f"{source}: '{key}' must be > 0, got {getattr(opts, key)}")
        for key in ("reg", "warmup_steps"):
            if getattr(opts, key) < 0:
                raise UserError(f"{source}: '{key}' must be >= 0, got {getattr(opts, key)}")
        if not 0 < opts.reg_ratio <= 1:
            raise UserError(f"{source}: 'reg_ratio' must be in (0, 1], got {opts.reg_ratio}")
        if opts.eval_cells is not None and opts.eval_cells < 3:
            raise UserError(f"{source}: 'eval_cells' must be >= 3 (normal and reduction cells), got {opts.eval_cells}")
        if opts.eval_lr is not None and opts.eval_lr <= 0:
            raise UserError(f"{source}: 'eval_lr' must be > 0, got {opts.eval_lr}")

    # ---------------------------------------------------------------- the evaluation network

    def _build(self, genotype: BlockGenotype) -> nn.Module:
        n = self.net
        cells = self.opts.eval_cells or len(n.cells)
        net = build_network(reference_spec(genotype, cells, n.width, n.nodes, n.in_chans, n.num_classes, n.image_size))
        net = net.to(n.alphas["normal"].device)
        net.stem = n.stem  # shared with the search network
        return net

    def _make_optimizer(self) -> None:
        params = [p for name, p in self.eval_net.named_parameters() if not name.startswith("stem.")]
        lr = self.opts.eval_lr or self.cfg.lr
        self.e_opt = torch.optim.SGD(params, lr=lr, momentum=self.cfg.momentum, weight_decay=self.cfg.weight_decay)
        self._set_eval_lr()

    def _set_eval_lr(self) -> None:
        if self.e_opt is not None:  # the search network's cosine schedule, scaled to eval_lr
            scale = self.lr / self.cfg.lr
            for g in self.e_opt.param_groups:
                g["lr"] = (self.opts.eval_lr or self.cfg.lr) * scale

    def refresh_eval_net(self) -> bool:
        """Derive the genotype; rebuild the evaluation network if it changed. True if rebuilt."""
        self.refresh = False
        genotype = self.derive()
        text = genotype.to_string()
        if self.eval_net is not None and text == self.genotype:
            return False
        new = self._build(genotype)
        copy_matching_weights(self.eval_net, new, self.net)
        self.eval_net, self.genotype = new, text
        self._make_optimizer()
        self.eval_warm_left = self.opts.warmup_steps
        return True

    # ---------------------------------------------------------------- steps

    def reg_weight(self) -> float:
        return self.opts.reg * max(0.0, 1.0 - self.progress / self.opts.reg_ratio)

    def reg_loss(self) -> torch.Tensor:
        """L1 of the alpha of the parameter-free ops still in the space."""
        return sum((self.net.alphas[k].abs() * (self.free & self.net.mask(k))).sum() for k in KINDS)

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        if self.refresh or self.eval_net is None:
            self.refresh_eval_net()
        x, y = val
        e_params = self.e_opt.param_groups[0]["params"]
        if self.eval_warm_left > 0:  # a fresh evaluation network first learns on its own
            self.eval_warm_left -= 1
            self.e_opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.eval_net(x), y)
            set_grads(e_params, torch.autograd.grad(loss, e_params, allow_unused=True))
            self._clip_and_step()
            return {"eval_loss": loss.item()}
        self.a_opt.zero_grad(set_to_none=True)
        self.e_opt.zero_grad(set_to_none=True)
        z_s = self.forward(x)
        z_e = self.eval_net(x)
        loss, parts = cdarts_loss(z_s, z_e, y, self.opts.temperature, self.opts.balance, self.opts.detach_teacher)
        w = self.reg_weight()
        if w:
            loss = loss + w * self.reg_loss()
        # gradients of alpha and the evaluation network only: the search weights (the shared stem
        # included) learn on the training batch alone, so theirs would be thrown away
        alphas = self.net.arch_parameters()
        grads = torch.autograd.grad(loss, alphas + list(e_params), allow_unused=True)
        set_grads(alphas + list(e_params), grads)
        self._clip_and_step()
        self.a_opt.step()
        return {
            "val_loss": loss.item(),
            "kd": parts["kd"].item(),
            "eval_acc": float((z_e.argmax(1) == y).float().mean()),
        }

    def _clip_and_step(self) -> None:
        params = self.e_opt.param_groups[0]["params"]
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.e_opt.step()

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        start = self.plan.first_epoch if self.plan else 0
        if epoch >= start and (epoch - start) % self.opts.cycle_epochs == 0:
            self.refresh = True
        self._set_eval_lr()

    # ---------------------------------------------------------------- state

    def extra_state(self) -> Dict[str, Any]:
        if self.eval_net is None:
            return {"refresh": self.refresh}
        return {
            "genotype": self.genotype,
            "eval_net": {k: v for k, v in self.eval_net.state_dict().items() if not k.startswith("stem.")},
            "e_opt": self.e_opt.state_dict(),
            "eval_warm_left": self.eval_warm_left,
            "refresh": self.refresh,
        }

    def load_extra_state(self, state: Dict[str, Any]) -> None:
        self.refresh = bool(state.get("refresh", True))
        if state.get("genotype") is None:
            return
        self.genotype = state["genotype"]
        self.eval_net = self._build(BlockGenotype.parse(self.genotype))
        missing, unexpected = self.eval_net.load_state_dict(state["eval_net"], strict=False)
        if unexpected or any(not k.startswith("stem.") for k in missing):
            raise RuntimeError(f"cdarts checkpoint does not fit its evaluation network: {missing} {unexpected}")
        self._make_optimizer()
        self.e_opt.load_state_dict(state["e_opt"])
        self.eval_warm_left = int(state["eval_warm_left"])


def _copy_state(src: nn.Module, dst: nn.Module) -> None:
    """Copy the parameters and buffers of ``src`` into ``dst`` wherever name and shape agree."""
    have = src.state_dict()
    with torch.no_grad():
        for name, t in dst.state_dict().items():
            s = have.get(name)
            if s is not None and s.shape == t.shape:
                t.copy_(s)


def _op_modules(net) -> Dict[Tuple[int, int, str, int], nn.Module]:
    """The ops of a discrete network keyed by (cell, node, op, input)."""
    out = {}
    for ci, cell in enumerate(net.cells):
        for n, (entries, pairs) in enumerate(zip(cell.inputs, cell.genotype.nodes)):
            for (k, j), (op, _) in zip(entries, pairs):
                out[(ci, n + 2, op, j)] = cell.ops[k]
    return out


def copy_matching_weights(old: Optional[nn.Module], new: nn.Module, supernet) -> None:
    """Fill ``new`` (a discrete network) from ``old`` (the previous one) where an op sits on the
    same (cell, node, input), else from the supernet's edge where the cell plans agree;
    preprocessing and classifier from ``old`` by name and shape."""
    from ...space.genotype import edge_index

    edges = {e: pos for pos, e in enumerate(edge_index(supernet.nodes))}
    previous = _op_modules(old) if old is not None else {}
    for (ci, i, op, j), module in _op_modules(new).items():
        if (ci, i, op, j) in previous:
            _copy_state(previous[(ci, i, op, j)], module)
        elif ci < len(supernet.cells) and supernet.cells[ci].plan == new.cells[ci].plan:
            mixed = supernet.cells[ci].edges[edges[(i, j)]]
            _copy_state(mixed.ops[supernet.op_names.index(op)], module)
    if old is not None:
        for ci, cell in enumerate(new.cells):
            if ci < len(old.cells) and old.cells[ci].plan == cell.plan:
                _copy_state(old.cells[ci].pre0, cell.pre0)
                _copy_state(old.cells[ci].pre1, cell.pre1)
        _copy_state(old.classifier, new.classifier)
