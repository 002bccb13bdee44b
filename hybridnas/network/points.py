"""From the engine's integer vectors to candidates: the two kinds of space a search runs over.

A *points* object turns a batch of gene vectors into :class:`Point` s - a stable id, a readable
genome, what the evaluator needs, and the objectives known without evaluating (the "cheap"
ones). :class:`NetworkPoints` decodes network genomes of a block library and costs them
analytically (params, MACs, FLOPs) and, only when asked, by the latency table;
:class:`TablePoints` decodes the declared genes of a tabular space and reads the cost columns
of their row. The network stage (:mod:`hybridnas.network.stage`) sees only this interface:

- ``spec`` (the genes), ``sparse`` (some gene vectors have no point: infeasible), ``points(X)``;
- ``cheap_objectives``: the objectives every point knows without evaluating;
- ``trains``: whether evaluating a point trains a network (False: a table lookup), and
  ``budgets(evaluation)``, the budgets a point is evaluated at (rungs; ``(None,)`` for a lookup);
- ``front_columns`` and ``source``: what the front's files show besides the objectives, and
  where its accuracies come from (None: proxy training);
- ``hv_reference(objectives, maximize, seed)``: the bounds that normalise the run's hypervolume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from ..config import EvaluationConfig, RunConfig
from ..core.objectives import COSTS, ERROR, hv_reference, objective_value
from ..space.costs import network_cost, smallest_cost
from ..space.genome import ArchSpec, GenomeSpace
from ..space.table import Table
from . import fidelity

HV_SAMPLE = 2000  # random genomes whose costs bound a network space's hypervolume
HV_LATENCY_SAMPLE = 64  # the first of them timed for the latency bounds (timing is not free)


@dataclass(frozen=True)
class Point:
    arch_id: str
    genome: str  # readable form: a genome string, or "gene=value,..." for a table row
    arch: Dict[str, Any] = field(compare=False)  # what the evaluator gets
    cheap: Dict[str, float] = field(compare=False)  # objectives known before any evaluation
    found: bool = True  # False: a tabular space's table has no row for these genes


class Points(Protocol):
    """The interface the network stage sees (the module docstring): :class:`NetworkPoints` or :class:`TablePoints`."""

    spec: Any  # the genes: n_var, xl, xu, vtypes, sample(rng, n)
    sparse: bool
    trains: bool
    cheap_objectives: Tuple[str, ...]
    front_columns: Tuple[str, ...]
    source: Optional[str]

    def points(self, X) -> List[Point]: ...

    def budgets(self, evaluation: EvaluationConfig) -> Tuple[Optional[int], ...]: ...

    def hv_reference(self, objectives: Sequence[str], maximize: Sequence[str], seed: int) -> Dict[str, Any]: ...


class NetworkPoints:
    """Genomes over a block library: analytic costs, and latency from the run's table when asked."""

    sparse = False
    trains = True
    front_columns: Tuple[str, ...] = ()
    source: Optional[str] = None

    def __init__(self, cfg: RunConfig, library, data, latency=None):
        self.network = cfg.network
        self.nodes = cfg.cell.nodes
        self.space = GenomeSpace(cfg.network, len(library))
        self.spec = self.space.spec
        self.blocks = tuple(getattr(e, "genotype", e) for e in library)  # library entries or genotypes
        self.data = data
        self.latency = latency  # a LatencyTable, or None when latency is not asked for
        self.cheap_objectives = ("params", "macs", "flops") + (("latency",) if latency is not None else ())

    def budgets(self, evaluation: EvaluationConfig) -> Tuple[Optional[int], ...]:
        return fidelity.budgets(evaluation)

    def arch(self, x) -> ArchSpec:
        d = self.data
        return ArchSpec(self.space.decode(x), self.blocks, self.network.base_width, self.nodes,
                        d.in_chans, d.num_classes, d.image_size)

    @staticmethod
    def analytic(spec: ArchSpec) -> Dict[str, float]:
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

    def smallest(self) -> Optional[Dict[str, float]]:
        """The fewest params, MACs and FLOPs any network of the library can have (None: too many layouts)."""
        d = self.data
        least = smallest_cost(self.network, self.nodes, d.in_chans, d.num_classes, tuple(d.image_size), self.blocks)
        return None if least is None else {"params": least.params, "macs": least.macs, "flops": least.flops}

    def hv_reference(self, objectives: Sequence[str], maximize: Sequence[str], seed: int) -> Dict[str, Any]:
        """Fixed bounds for normalising objectives, so hypervolumes compare across generations:
        error in [0, 1]; params, MACs and FLOPs from the exact smallest network of the block library
        (:func:`~hybridnas.space.costs.smallest_cost`) to the largest of 2,000 random genomes
        (analytic, milliseconds; ``seed`` draws them) times 1.1, on a log scale; latency from the
        first 64 of them (each new block is timed), halved and doubled."""
        rng = np.random.default_rng(seed)
        X = self.spec.sample(rng, HV_SAMPLE)
        costs = [self.analytic(self.arch(x)) for x in X]
        least = self.smallest()
        lower, upper, log = [], [], []
        for name in objectives:
            if name == ERROR:
                lower.append(0.0)
                upper.append(1.0)
                log.append(False)
                continue
            if name == "latency":  # timing is not free: a smaller sample, wider margins
                v = np.array([pt.cheap["latency"] for pt in self.points(X[:HV_LATENCY_SAMPLE])], dtype=float)
                lower.append(float(v.min()) / 2)
                upper.append(float(v.max()) * 2)
            else:
                v = np.array([c[name] for c in costs], dtype=float)
                lower.append(float(least[name]) if least is not None else float(v.min()))
                upper.append(float(v.max()) * 1.1)
            log.append(True)
        note = ("objectives normalised to [0, 1] between lower and upper (log10 for costs); HV against ref_point; "
                + ("cost lower bounds: the smallest network of the library (exact)" if least is not None else
                   "cost lower bounds: the smallest of 2,000 random genomes (too many layouts to enumerate)"))
        return hv_reference(objectives, maximize, lower, upper, log, note)


class TablePoints:
    """The declared genes of a tabular space; a point's cheap objectives are its row's cost columns."""

    trains = False

    def __init__(self, table: Table, path: Optional[str] = None):
        self.table = table
        self.spec = table.spec
        self.sparse = not table.complete
        self.cost_columns = [c for c in COSTS if c in table.columns]
        self.cheap_objectives = tuple(self.cost_columns)
        self.front_columns = tuple(table.columns)
        # ``path``: table.path as the space file gives it (default: the file the table was read from)
        self.source = f"table {path if path is not None else table.path}"

    def budgets(self, evaluation: EvaluationConfig) -> Tuple[Optional[int], ...]:
        return (None,)  # a lookup

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

    def hv_reference(self, objectives: Sequence[str], maximize: Sequence[str], seed: int = 0) -> Dict[str, Any]:
        """The bounds of :func:`table_reference` read from the cost columns only (``seed``: unused)."""
        return table_reference(self.table, objectives, maximize, costs_only=True)


def table_reference(table: Table, objectives: Sequence[str], maximize: Sequence[str] = (),
                    costs_only: bool = False) -> Dict[str, Any]:
    """Hypervolume normalisation of a tabular space: each objective's exact range over the table.

    ``costs_only`` (a search's own ``hv_reference.json``): only the cost columns - known before
    evaluating, as a network's params - are read from the table; the error spans [0, 1], and
    another result column the range of the values the search will meet is unknown, so its range
    is read as well but never shown to the engine (the run's hypervolume only)."""
    rows = list(table.rows.values())
    costs = set(getattr(table, "columns", ())) & set(COSTS)
    lower, upper, log = [], [], []
    for o in objectives:
        if costs_only and o == ERROR:
            lower.append(0.0)
            upper.append(1.0)
            log.append(False)
            continue
        if costs_only and o in costs:
            v = np.array([-float(r[o]) if o in maximize else float(r[o]) for r in rows], dtype=float)
        else:
            v = np.array([objective_value({**r, "status": "ok"}, o, maximize) for r in rows], dtype=float)
        lower.append(float(v.min()))
        upper.append(float(v.max()))
        log.append(o in COSTS and o not in maximize and bool(np.all(v > 0)))
    note = ("objectives normalised to [0, 1] between the table's exact lower and upper (log10 for positive costs)"
            if not costs_only else
            "costs normalised to [0, 1] between the table's exact lower and upper (log10 when positive), error "
            "between 0 and 1; read from the cost columns only")
    return hv_reference(objectives, maximize, lower, upper, log, note)
