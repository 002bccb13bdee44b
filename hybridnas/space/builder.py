"""Build a network (``nn.Module``) from an :class:`~hybridnas.space.genome.ArchSpec`.

Every network, whatever its genome, is a :class:`Network` with the same API (``forward``,
``forward_features``, ``forward_head``, ``reset_classifier``, ``arch_id``), so pick, export and
training never special-case a genome.

Full training may add an auxiliary classifier (DARTS, Liu et al. 2019, after Szegedy et al.'s
Inception: https://arxiv.org/abs/1806.09055) with ``aux_head=True``. It only exists for training:
its weights live under ``aux_head.`` in the state dict and :func:`strip_aux` removes them, so the
exported network is exactly :func:`build_network(spec)` and the analytic cost model still holds.
"""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn

from .cell import CellBase, CellPlan, CellStack, edge_stride, plan_cells
from .genome import ArchSpec
from .genotype import CellGenotype
from .ops import build_op


def drop_path(x: torch.Tensor, p: float) -> torch.Tensor:
    """Zero whole samples with probability ``p`` and rescale the rest (training only)."""
    keep = 1.0 - p
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class DiscreteCell(CellBase):
    """A cell with the operations of a genotype on its edges."""

    def __init__(self, plan: CellPlan, genotype: CellGenotype):
        super().__init__(plan, affine=True)
        self.genotype = genotype
        self.ops = nn.ModuleList()
        self.inputs: List[List[Tuple[int, int]]] = []  # per node: (index into self.ops, input node)
        for node in genotype.nodes:
            entries = []
            for op, j in node:
                entries.append((len(self.ops), j))
                self.ops.append(build_op(op, plan.c, edge_stride(plan, j), affine=True))
            self.inputs.append(entries)
        self.drop_prob = 0.0

    def node(self, i, states):
        out = None
        for k, j in self.inputs[i - 2]:
            op = self.ops[k]
            h = op(states[j])
            if self.training and self.drop_prob > 0 and not isinstance(op, nn.Identity):
                h = drop_path(h, self.drop_prob)
            out = h if out is None else out + h
        return out


AUX_PREFIX = "aux_head."


class AuxiliaryHead(nn.Module):
    """Classifier on intermediate features: ReLU, pool to 2x2, 1x1 conv, BN, ReLU, linear.

    DARTS pools with a fixed 5x5 window sized for 8x8 CIFAR features; adaptive pooling makes
    the head work at any resolution (digits' features are 2x2 to 8x8).
    """

    def __init__(self, c: int, num_classes: int, hidden: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AdaptiveAvgPool2d(2),
            nn.Conv2d(c, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(4 * hidden, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class Network(CellStack):
    """A discrete network of cells; ``drop_path_prob`` is set by the trainer per epoch.

    With ``aux_head=True`` it returns ``(logits, aux_logits)`` in training mode (the head reads
    the cell at 2/3 of the depth, where DARTS puts it) and plain logits in eval mode.
    """

    def __init__(self, spec: ArchSpec, aux_head: bool = False):
        cells_spec = spec.cells()
        plans = plan_cells(spec.genome.stem, spec.image_size, [(c, red) for c, red, _ in cells_spec], spec.nodes)
        cells = [DiscreteCell(p, g) for p, (_, _, g) in zip(plans, cells_spec)]
        super().__init__(spec.in_chans, spec.genome.stem, spec.num_classes, cells)
        self.spec = spec
        self.aux_index = min(2 * len(cells) // 3, len(cells) - 1)
        self.aux_head = AuxiliaryHead(plans[self.aux_index].c_out, spec.num_classes) if aux_head else None

    def forward(self, x):
        if self.aux_head is None or not self.training:
            return super().forward(x)
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_index:
                aux = self.aux_head(s1)
        return self.forward_head(s1), aux

    @property
    def arch_id(self) -> str:
        return self.spec.arch_id

    @property
    def drop_path_prob(self) -> float:
        return self.cells[0].drop_prob if len(self.cells) else 0.0

    @drop_path_prob.setter
    def drop_path_prob(self, p: float) -> None:
        for c in self.cells:
            c.drop_prob = float(p)


def build_network(spec: ArchSpec, aux_head: bool = False) -> Network:
    return Network(spec, aux_head=aux_head)


def strip_aux(state: dict) -> dict:
    """The state dict of the deployable network: the auxiliary head's entries removed."""
    return {k: v for k, v in state.items() if not k.startswith(AUX_PREFIX)}
