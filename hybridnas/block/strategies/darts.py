"""DARTS: softmax-mixed ops, alpha by gradient descent on the validation loss.

Liu, Simonyan, Yang. "DARTS: Differentiable Architecture Search", ICLR 2019,
https://arxiv.org/abs/1806.09055. ``order: 1`` alternates plain steps (alpha on a validation
batch, then weights on a training batch); ``order: 2`` uses the unrolled approximation
``grad_a L_val(w - xi grad_w L_train(w, a), a)`` with its finite-difference Hessian-vector term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Literal

import torch

from . import STRATEGIES
from .base import Batch, BlockStrategy


@dataclass(frozen=True)
class DartsOptions:
    order: Literal[1, 2] = 1


@STRATEGIES.register("darts")
class Darts(BlockStrategy):
    name = "darts"
    Options = DartsOptions

    def arch_objective(self, x, y) -> torch.Tensor:
        """The loss whose gradient updates alpha. Subclasses add terms here."""
        return self.loss(x, y)[0]

    def adjust_arch_grads(self) -> None:
        """Called after the alpha gradient is computed, before the optimiser step."""

    def arch_step(self, train: Batch, val: Batch) -> Dict[str, float]:
        self.a_opt.zero_grad(set_to_none=True)
        if getattr(self.opts, "order", 1) == 2:
            val_loss = self._unrolled_grads(train, val)
        else:
            val_loss = self.arch_objective(*val)
            val_loss.backward()
        self.adjust_arch_grads()
        self.a_opt.step()
        self.w_opt.zero_grad(set_to_none=True)  # the alpha step must not leave grads on weights
        return {"val_loss": val_loss.item()}

    def _unrolled_grads(self, train: Batch, val: Batch) -> torch.Tensor:
        """Second-order DARTS: sets alpha.grad; leaves the weights as they were."""
        weights = [p for p in self.w_opt.param_groups[0]["params"]]
        alphas = self.net.arch_parameters()
        xi = self.lr
        wd = self.cfg.weight_decay
        backup = [p.detach().clone() for p in weights]
        # w' = w - xi * (grad_w L_train + wd * w)
        g_w = torch.autograd.grad(self.loss(*train)[0], weights, allow_unused=True)
        with torch.no_grad():
            for p, g in zip(weights, g_w):
                if g is not None:
                    p.sub_(xi * (g + wd * p))
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
            out = torch.autograd.grad(self.loss(*train)[0], alphas)
            with torch.no_grad():
                for p, b in zip(weights, backup):
                    p.copy_(b)
            return out

        g_pos, g_neg = alpha_grad_at(+1.0), alpha_grad_at(-1.0)
        for a, da, gp, gn in zip(alphas, d_alpha, g_pos, g_neg):
            a.grad = da - xi * (gp - gn) / (2 * r)
        return val_loss
