"""From the engine's integer vectors to candidates: the two kinds of space a search runs over.

A *points* object turns a batch of gene vectors into :class:`Point` s - a stable id, a readable
genome, what the evaluator needs, and the objectives known without evaluating (the "cheap"
ones). :class:`NetworkPoints` decodes network genomes of a block library and costs them
analytically (params, MACs, FLOPs) and, only when asked, by the latency table;
:class:`TablePoints` decodes the declared genes of a tabular space and reads the cost columns
of their row. The network stage (:mod:`hybridnas.network.search`) sees only this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np

from ..space.genome import ArchSpec, GenomeSpace


@dataclass(frozen=True)
class Point:
    arch_id: str
    genome: str  # readable form: a genome string, or "gene=value,..." for a table row
    arch: Dict[str, Any] = field(compare=False)  # what the evaluator gets
    cheap: Dict[str, float] = field(compare=False)  # objectives known before any evaluation
    found: bool = True  # False: a tabular space's table has no row for these genes


class NetworkPoints:
    """Genomes over a block library: analytic costs, and latency from the run's table when asked."""

    sparse = False

    def __init__(self, cfg, library, data, latency=None):
        self.cfg = cfg
        self.space = GenomeSpace(cfg.network, len(library))
        self.spec = self.space.spec
        self.blocks = tuple(getattr(e, "genotype", e) for e in library)  # library entries or genotypes
        self.data = data
        self.latency = latency  # a LatencyTable, or None when latency is not asked for

    def arch(self, x) -> ArchSpec:
        d = self.data
        return ArchSpec(self.space.decode(x), self.blocks, self.cfg.network.base_width, self.cfg.cell.nodes,
                        d.in_chans, d.num_classes, d.image_size)

    @staticmethod
    def analytic(spec: ArchSpec) -> Dict[str, float]:
        from ..space.costs import network_cost

        cost = network_cost(spec)
        return {"params": cost.params, "macs": cost.macs, "flops": cost.flops}

    def cheap(self, spec: ArchSpec) -> Dict[str, float]:
        out = self.analytic(spec)
        if self.latency is not None:
            out["latency"] = self.latency.predict(spec)
        return out

    def points(self, X) -> List[Point]:
        specs = [self.arch(x) for x in X]
        if self.latency is not None:
            self.latency.ensure(specs)  # one measurement pass and one write for the batch
        return [Point(s.arch_id, s.genome.to_string(), s.to_json(), self.cheap(s)) for s in specs]


class TablePoints:
    """The declared genes of a tabular space; a point's cheap objectives are its row's cost columns."""

    def __init__(self, table):
        from ..space.table import COST_COLUMNS

        self.table = table
        self.spec = table.spec
        self.sparse = not table.complete
        self.cost_columns = [c for c in COST_COLUMNS if c in table.columns]

    def points(self, X) -> List[Point]:
        out = []
        for x in X:
            p = self.table.point(x)
            row = self.table.row(x)
            cheap = {c: float(row[c]) for c in self.cost_columns} if row is not None else {}
            out.append(Point(p.arch_id, p.genome, {"genes": p.genes}, cheap, found=row is not None))
        return out

    def all_points(self) -> List[Point]:
        keys = np.array(list(self.table.rows), dtype=int)
        return self.points(keys)
