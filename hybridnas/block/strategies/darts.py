"""DARTS: softmax-mixed ops, alpha by gradient descent on the validation loss.

Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search", ICLR 2019,
https://arxiv.org/abs/1806.09055. ``order: 1`` alternates plain steps (alpha on a validation
batch, then weights on a training batch); ``order: 2`` uses the unrolled approximation
``grad_a L_val(w', a) - xi * (grad_a L_train(w+, a) - grad_a L_train(w-, a)) / (2 r)`` with the
virtual step ``w' = w - xi (mu m + grad_w L_train(w, a) + wd w)`` - the weights' next SGD step,
momentum buffer ``m`` and weight decay included, as DARTS's ``_compute_unrolled_model`` takes it -
and ``w+- = w +- r grad_w' L_val(w', a)``.

The architecture step asks autograd for the gradient of alpha alone
(``torch.autograd.grad(loss, alphas)``): the same alpha gradient as ``loss.backward()``, without
computing (and throwing away) the gradients of every supernet weight.

:class:`GradientDarts` is that alternating first-order step alone, with no options: the base of
the strategies that reuse it (the Gumbel ones, :mod:`.sampling`); :class:`Darts` adds ``order``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Literal, Optional, Sequence, Tuple

import torch

from . import STRATEGIES
from .base import Batch, BlockStrategy, set_grads


@dataclass(frozen=True)
class DartsOptions:
    order: Literal[1, 2] = 1
    """1: alternate first-order steps (alpha on a validation batch, then the weights); 2: DARTS's
    unrolled second-order approximation (three more forward-backward passes per alpha step)."""


class GradientDarts(BlockStrategy):
    """Alpha by its gradient on a validation batch, alternating with the weights' step: DARTS's
    first-order step (not registered). Subclasses change the loss (:meth:`arch_objective`), the
    gradient (:meth:`arch_grads`) or the update (:meth:`adjust_arch_update`)."""

    def arch_objective(self, x, y) -> torch.Tensor:
        """The loss whose gradient updates alpha. Subclasses add terms here."""
        return self.loss(x, y)[0]

    def adjust_arch_update(self, before: List[torch.Tensor]) -> None:
        """Called after the optimiser step with alpha as it was before it (for rules that act
        on the update itself)."""

    def arch_grads(self, train: Batch, val: Batch) -> Tuple[torch.Tensor, Sequence[Optional[torch.Tensor]]]:
        """The validation loss and alpha's gradient of it (first order: at the current weights)."""
        val_loss = self.arch_objective(*val)
        return val_loss, torch.autograd.grad(val_loss, self.net.arch_parameters(), allow_unused=True)

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        alphas = self.net.arch_parameters()
        self.a_opt.zero_grad(set_to_none=True)
        val_loss, grads = self.arch_grads(train, val)
        set_grads(alphas, grads)
        before = [a.detach().clone() for a in alphas]
        self.a_opt.step()
        self.adjust_arch_update(before)
        return {"val_loss": val_loss.item()}


@STRATEGIES.register("darts")
class Darts(GradientDarts):
    """DARTS, first or second order: ``Options`` need ``order`` (:class:`DartsOptions`; the
    enhanced strategy's options have it too)."""

    name = "darts"
    Options = DartsOptions

    def arch_grads(self, train: Batch, val: Batch) -> Tuple[torch.Tensor, Sequence[Optional[torch.Tensor]]]:
        if self.opts.order == 2:
            return self._unrolled_grads(train, val)
        return super().arch_grads(train, val)

    def virtual_step(self, weights: List[torch.Tensor], grads: Sequence[torch.Tensor]) -> None:
        """Move ``weights`` in place by the step SGD would take next: ``xi (mu m + g + wd w)``."""
        xi, mu, wd = self.lr, self.cfg.momentum, self.cfg.weight_decay
        with torch.no_grad():
            for p, g in zip(weights, grads):
                if g is None:  # unused this step: SGD would not move it either
                    continue
                d = g + wd * p
                buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
                if buf is not None and mu:
                    d = d + mu * buf
                p.sub_(xi * d)

    def _unrolled_grads(self, train: Batch, val: Batch) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Second-order DARTS: the validation loss at the virtual weights and alpha's gradient;
        leaves the weights as they were."""
        weights = [p for p in self.w_opt.param_groups[0]["params"]]
        alphas = self.net.arch_parameters()
        xi = self.lr
        backup = [p.detach().clone() for p in weights]
        g_w = torch.autograd.grad(self.loss(*train)[0], weights, allow_unused=True)
        self.virtual_step(weights, g_w)
        val_loss = self.arch_objective(*val)
        grads = torch.autograd.grad(val_loss, alphas + weights, allow_unused=True)
        d_alpha, d_w = grads[: len(alphas)], grads[len(alphas) :]
        # restore w, then the Hessian-vector product by central differences around it
        with torch.no_grad():
            for p, b in zip(weights, backup):
                p.copy_(b)
        norm = torch.sqrt(sum((g * g).sum() for g in d_w if g is not None))
        r = 0.01 / (float(norm) + 1e-12)

        def alpha_grad_at(sign: float):
            with torch.no_grad():
                for p, g in zip(weights, d_w):
                    if g is not None:
                        p.add_(sign * r * g)
            out = torch.autograd.grad(self.loss(*train)[0], alphas, allow_unused=True)
            with torch.no_grad():
                for p, b in zip(weights, backup):
                    p.copy_(b)
            return out

        g_pos, g_neg = alpha_grad_at(+1.0), alpha_grad_at(-1.0)
        out = []
        for da, gp, gn in zip(d_alpha, g_pos, g_neg):
            if da is None or gp is None or gn is None:
                out.append(da)
            else:
                out.append(da - xi * (gp - gn) / (2 * r))
        return val_loss, out
