"""Frozen cell genotypes and the block (normal + reduction cell) that the library holds.

A cell has two input nodes (0: output of the cell before the previous one, 1: output of the
previous cell) and ``n`` intermediate nodes numbered ``2..n+1``; its output concatenates all
intermediate nodes. Each intermediate node sums one or more ``(op, input)`` pairs, ``input`` being
any earlier node. The edge ``i<-j`` of the supernet is the pair slot "node i reads node j"; the
index map :func:`edge_index` is the one shared by the supernet forward pass and by derivation.

String grammar (round-trips exactly through :meth:`CellGenotype.parse`)::

    cell   := node ("|" node)*            one entry per intermediate node, in order
    node   := input ("+" input)*          the inputs that are summed
    input  := OP "@" INDEX                e.g. sep_conv_3x3@0
    block  := "normal:" cell ";reduce:" cell

    normal:sep_conv_3x3@0+skip_connect@1|sep_conv_3x3@0+dil_conv_3x3@2;reduce:max_pool_3x3@0+...
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from ..errors import UserError

Edge = Tuple[str, int]


def edge_index(nodes: int) -> List[Tuple[int, int]]:
    """All supernet edges ``(i, j)`` meaning node ``i`` reads node ``j``, in a fixed order."""
    return [(i, j) for i in range(2, nodes + 2) for j in range(i)]


def node_edges(nodes: int) -> Dict[int, List[int]]:
    """For each intermediate node, the positions in :func:`edge_index` of its incoming edges."""
    out: Dict[int, List[int]] = {}
    for pos, (i, _j) in enumerate(edge_index(nodes)):
        out.setdefault(i, []).append(pos)
    return out


@dataclass(frozen=True)
class CellGenotype:
    nodes: Tuple[Tuple[Edge, ...], ...]

    def __post_init__(self):
        for i, node in enumerate(self.nodes):
            if not node:
                raise UserError(f"cell genotype node {i + 2} has no inputs; every node needs at least one")
            for _op, j in node:
                if not (0 <= j < i + 2):
                    raise UserError(
                        f"cell genotype node {i + 2} reads node {j}, which is not earlier; "
                        f"inputs must be in 0..{i + 1}"
                    )

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def ops(self) -> Iterable[str]:
        for node in self.nodes:
            for op, _ in node:
                yield op

    def to_string(self) -> str:
        return "|".join("+".join(f"{op}@{j}" for op, j in node) for node in self.nodes)

    __str__ = to_string

    @classmethod
    def parse(cls, text: str) -> "CellGenotype":
        try:
            nodes = []
            for node in text.strip().split("|"):
                pairs = []
                for item in node.split("+"):
                    op, j = item.rsplit("@", 1)
                    pairs.append((op.strip(), int(j)))
                nodes.append(tuple(pairs))
        except ValueError:
            raise UserError(
                f"cannot parse cell genotype '{text}': expected nodes like 'sep_conv_3x3@0+skip_connect@1' "
                "separated by '|'"
            ) from None
        return cls(tuple(nodes))

    def to_json(self):
        return [[[op, j] for op, j in node] for node in self.nodes]

    @classmethod
    def from_json(cls, data) -> "CellGenotype":
        return cls(tuple(tuple((str(op), int(j)) for op, j in node) for node in data))


@dataclass(frozen=True)
class BlockGenotype:
    """One library entry: the normal cell and the reduction cell found together."""

    normal: CellGenotype
    reduce: CellGenotype

    def to_string(self) -> str:
        return f"normal:{self.normal};reduce:{self.reduce}"

    __str__ = to_string

    @classmethod
    def parse(cls, text: str) -> "BlockGenotype":
        parts = dict(p.split(":", 1) for p in text.strip().split(";") if ":" in p)
        if set(parts) != {"normal", "reduce"}:
            raise UserError(f"cannot parse block genotype '{text}': expected 'normal:<cell>;reduce:<cell>'")
        return cls(CellGenotype.parse(parts["normal"]), CellGenotype.parse(parts["reduce"]))

    def cell(self, reduction: bool) -> CellGenotype:
        return self.reduce if reduction else self.normal

    def digest(self) -> str:
        return hashlib.sha1(self.to_string().encode()).hexdigest()[:10]
