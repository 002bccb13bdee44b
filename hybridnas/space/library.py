"""The block library: what the block stage hands to the network stage (``blocks.json``).

Each entry is a :class:`~hybridnas.space.genotype.BlockGenotype` with where it came from (the
strategy options of the library members that derived it) and its cost at the reference width:
the cost of one normal cell, and of the reference network - the supernet's macro layout (same
depth, reductions at 1/3 and 2/3, stem 3x width) built from this block alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from ..errors import UserError
from ..store.layout import BLOCKS
from .cell import CellPlan
from .costs import cell_cost, network_cost
from .genome import ArchSpec, Genome, Stage
from .genotype import BlockGenotype

CONVENTION = "macs = multiply-accumulates; flops = 2 x macs (torch.utils.flop_counter.FlopCounterMode convention)"


def reference_genome(cells: int, width: int) -> Genome:
    """The DARTS evaluation layout as a genome: N...N R N...N R N...N, channels doubling at R."""
    a, b = cells // 3, 2 * cells // 3
    stages = (Stage(a, 0, 1.0, False), Stage(b - a, 0, 1.0, True), Stage(cells - b, 0, 1.0, True))
    return Genome(3 * width, tuple(s for s in stages if s.repeats > 0))


@dataclass(frozen=True)
class LibraryEntry:
    genotype: BlockGenotype
    members: Tuple[int, ...]
    options: Tuple[Dict[str, Any], ...]
    cell_params: int
    cell_macs: int
    net_params: int
    net_macs: int
    strategy: str = ""
    stopped_early: bool = False

    def to_json(self, index: int) -> Dict[str, Any]:
        return {
            "index": index,
            "genotype": self.genotype.to_string(),
            "normal": self.genotype.normal.to_string(),
            "reduce": self.genotype.reduce.to_string(),
            "strategy": self.strategy,
            "members": list(self.members),
            "options": list(self.options),
            "cell_params": self.cell_params,
            "cell_macs": self.cell_macs,
            "net_params": self.net_params,
            "net_macs": self.net_macs,
            "net_flops": 2 * self.net_macs,
            "stopped_early": self.stopped_early,
        }

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "LibraryEntry":
        return cls(
            genotype=BlockGenotype.parse(d["genotype"]),
            members=tuple(d.get("members", ())),
            options=tuple(d.get("options", ())),
            cell_params=int(d["cell_params"]),
            cell_macs=int(d["cell_macs"]),
            net_params=int(d["net_params"]),
            net_macs=int(d["net_macs"]),
            strategy=d.get("strategy", ""),
            stopped_early=bool(d.get("stopped_early", False)),
        )


def reference_spec(genotype: BlockGenotype, cells: int, width: int, nodes: int, in_chans: int, num_classes: int,
                   image_size) -> ArchSpec:
    """The reference network of a block: the supernet's macro layout built from it alone."""
    return ArchSpec(reference_genome(cells, width), (genotype,), width, nodes, in_chans, num_classes, tuple(image_size))


def block_costs(genotype: BlockGenotype, width: int, cells: int, nodes: int, in_chans: int, num_classes: int,
                image_size) -> Dict[str, int]:
    """Cost of one normal cell and of the reference network (``cells`` cells of ``nodes`` nodes),
    at ``width`` (``block.reference_width``)."""
    w, n, res = width, nodes, tuple(image_size)
    net = network_cost(reference_spec(genotype, cells, w, n, in_chans, num_classes, res))
    cell = cell_cost(CellPlan(n * w, n * w, w, False, False, res, res, n), genotype.normal)
    return {"cell_params": cell.params, "cell_macs": cell.macs, "net_params": net.params, "net_macs": net.macs}


def save_library(store, entries: List[LibraryEntry], width: int, cells: int, nodes: int) -> None:
    """``blocks.json``: the library, with the reference layout its costs were measured on
    (:func:`block_costs`' ``width``, ``cells`` and ``nodes``)."""
    store.write_json(
        BLOCKS,
        {
            "convention": CONVENTION,
            "reference": {
                "width": width,
                "cells": cells,
                "nodes": nodes,
                "cell": "one normal cell with inputs of nodes x width channels",
                "net": "supernet layout built from the block: stem 3 x width, reductions at 1/3 and 2/3",
            },
            "blocks": [e.to_json(i) for i, e in enumerate(entries)],
        },
    )


def load_library(store) -> List[LibraryEntry]:
    data = store.read_json(BLOCKS)
    try:
        return [LibraryEntry.from_json(b) for b in data["blocks"]]
    except (KeyError, TypeError) as exc:
        raise UserError(f"'{store.path(BLOCKS)}' is malformed ({exc!r}); "
                        "delete it to re-derive the library on resume") from None
