"""Candidate operations of a cell edge, each with its exact analytic cost.

Every op is registered in :data:`OPS` with a builder and a cost function, so the module that
defines an op also owns its parameter and MAC count (the cost model in
:mod:`hybridnas.space.costs` only sums these). Costs follow the convention of
``torch.utils.flop_counter.FlopCounterMode``: convolutions and linear layers count, batch norm,
pooling, activations and additions do not; FLOPs are 2 x MACs. Parameters count batch-norm
affine weights, which the discrete network has (the supernet uses ``affine=False``).

All strided ops map an ``H x W`` input to ``ceil(H/2) x ceil(W/2)``, so any two inputs of a cell
node agree in shape, odd sizes included.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Callable, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Checks
from ..registry import CONFIG_HOOKS, Registry


def out_size(h: int, stride: int) -> int:
    return h if stride == 1 else math.ceil(h / stride)


@dataclass(frozen=True)
class OpSpec:
    """One candidate operation: how to build it and what it costs.

    ``cost(C, stride, H, W) -> (params, macs)`` for ``C`` channels in and out and an ``H x W``
    input. ``parametric`` is False for ops without weights (the collapse guards count these).
    """

    name: str
    build: Callable[[int, int, bool], nn.Module]
    cost: Callable[[int, int, int, int], Tuple[int, int]]
    parametric: bool


OPS: Registry[OpSpec] = Registry("operation")


def _register(name: str, build, cost, parametric: bool) -> None:
    OPS.register(name)(OpSpec(name, build, cost, parametric))


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the output shape (keeps the graph connected)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BN."""

    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, affine=True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked DilConv blocks with dilation 1; only the first one strides (as in DARTS)."""

    def __init__(self, c_in, c_out, kernel, stride, padding, affine=True):
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated.

    The second branch reads the input shifted by one pixel; padding by one first makes both
    branches ``ceil(H/2)`` for odd ``H`` too (and changes nothing for even ``H``).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


# ---- costs (params, MACs); see module docstring for the convention ----


def relu_conv_bn_cost(c_in, c_out, kernel, stride, h, w):
    ho, wo = out_size(h, stride), out_size(w, stride)
    return c_in * c_out * kernel * kernel + 2 * c_out, c_in * c_out * kernel * kernel * ho * wo


def factorized_reduce_cost(c_in, c_out, h, w):
    ho, wo = out_size(h, 2), out_size(w, 2)
    return c_in * c_out + 2 * c_out, c_in * c_out * ho * wo


def _dil_cost(c, k, stride, h, w):
    ho, wo = out_size(h, stride), out_size(w, stride)
    return c * k * k + c * c + 2 * c, (c * k * k + c * c) * ho * wo


def _sep_cost(c, k, stride, h, w):
    p1, m1 = _dil_cost(c, k, stride, h, w)
    p2, m2 = _dil_cost(c, k, 1, out_size(h, stride), out_size(w, stride))
    return p1 + p2, m1 + m2


def _free(c, stride, h, w):
    return 0, 0


def _skip_cost(c, stride, h, w):
    return (0, 0) if stride == 1 else factorized_reduce_cost(c, c, h, w)


_register("none", lambda c, s, affine: Zero(s), _free, parametric=False)
_register(
    "avg_pool_3x3",
    lambda c, s, affine: nn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    _free,
    parametric=False,
)
_register("max_pool_3x3", lambda c, s, affine: nn.MaxPool2d(3, stride=s, padding=1), _free, parametric=False)
_register(
    "skip_connect",
    lambda c, s, affine: nn.Identity() if s == 1 else FactorizedReduce(c, c, affine),
    _skip_cost,
    parametric=False,
)
for _k in (3, 5):
    _register(
        f"sep_conv_{_k}x{_k}",
        lambda c, s, affine, k=_k: SepConv(c, c, k, s, k // 2, affine),
        lambda c, s, h, w, k=_k: _sep_cost(c, k, s, h, w),
        parametric=True,
    )
    _register(
        f"dil_conv_{_k}x{_k}",
        lambda c, s, affine, k=_k: DilConv(c, c, k, s, k - 1, 2, affine),
        lambda c, s, h, w, k=_k: _dil_cost(c, k, s, h, w),
        parametric=True,
    )

DARTS_OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)


def op_cost(name: str, c: int, stride: int, h: int, w: int) -> Tuple[int, int]:
    return OPS.get(name).cost(c, stride, h, w)


def build_op(name: str, c: int, stride: int, affine: bool = True) -> nn.Module:
    return OPS.get(name).build(c, stride, affine)


@CONFIG_HOOKS.register("cell.ops")
def check_ops(ops: Sequence[str], ck: Checks) -> None:
    """The config's ``cell.ops`` hook: each op a known operation."""
    for i, op in enumerate(ops):
        if op not in OPS:
            close = difflib.get_close_matches(op, OPS.names(), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            ck.bad(f"cell.ops[{i}]", f"is an unknown operation '{op}'; {hint}known: {', '.join(OPS.names())}")
