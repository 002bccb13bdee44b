"""Build a network (``nn.Module``) from an :class:`~hybridnas.space.genome.ArchSpec`.

Every network, whatever its genome, is a :class:`Network` with the same API (``forward``,
``forward_features``, ``forward_head``, ``reset_classifier``, ``arch_id``), so pick, export and
training never special-case a genome.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from ..space.cell import CellBase, CellPlan, CellStack, edge_stride, plan_cells
from ..space.genome import ArchSpec
from ..space.genotype import CellGenotype
from ..space.ops import build_op


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


class Network(CellStack):
    """A discrete network of cells; ``drop_path_prob`` is set by the trainer per epoch."""

    def __init__(self, spec: ArchSpec):
        cells_spec = spec.cells()
        plans = plan_cells(spec.genome.stem, spec.image_size, [(c, red) for c, red, _ in cells_spec], spec.nodes)
        cells = [DiscreteCell(p, g) for p, (_, _, g) in zip(plans, cells_spec)]
        super().__init__(spec.in_chans, spec.genome.stem, spec.num_classes, cells)
        self.spec = spec

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


def build_network(spec: ArchSpec) -> Network:
    return Network(spec)
