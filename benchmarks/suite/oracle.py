"""A table as a black box for the search methods that are not hybridnas: genes in, objectives out.

Every method is scored on the order in which it meets distinct networks (arch ids of the table's
rows); asking for a network again is free, as in hybridnas. :class:`Oracle` keeps that order and
stops a method at its budget (:class:`Budget` is raised, the order is complete); a gene
combination the table lacks is infeasible and is neither counted nor scored.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from hybridnas.core.objectives import COSTS, objective_value


class Budget(Exception):
    """The method has met as many distinct networks as it may."""


class Oracle:
    """Objectives of a table's rows by gene codes (costs on log10, maximised columns negated)."""

    def __init__(self, table, rows: Dict[str, dict], objectives: Sequence[str], maximize: Sequence[str], n: int):
        self.table, self.rows, self.objectives, self.maximize = table, rows, list(objectives), list(maximize)
        self.n = min(n, len(rows))
        self.order: List[str] = []
        self.seen: Dict[str, np.ndarray] = {}
        self.calls = 0
        self.genes = table.spec.genes

    def arch_id(self, x) -> Optional[str]:
        """The arch id of gene codes ``x``, or None when the table has no row for them."""
        if self.table.row(x) is None:
            return None
        return self.table.point(np.asarray(x)).arch_id

    def evaluate(self, x) -> Optional[np.ndarray]:
        """The objective vector of ``x`` (None: infeasible); a new network counts against the budget."""
        self.calls += 1
        aid = self.arch_id(x)
        if aid is None:
            return None
        if aid not in self.seen:
            if len(self.order) >= self.n:
                raise Budget()
            r = self.rows[aid]
            values = [objective_value(r, o, self.maximize) for o in self.objectives]
            self.seen[aid] = np.array([math.log10(v) if o in COSTS and v > 0 else v
                                       for o, v in zip(self.objectives, values)])
            self.order.append(aid)
        return self.seen[aid]

    @property
    def done(self) -> bool:
        return len(self.order) >= self.n

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """Uniform gene codes, each in its gene's ``[low, high]``."""
        return self.table.spec.sample(rng, 1)[0].astype(int)

    def run(self, method, *args, **kwargs) -> List[str]:
        """Run ``method(self, *args, **kwargs)`` until it stops or meets its budget; the order it met networks."""
        try:
            method(self, *args, **kwargs)
        except Budget:
            pass
        return self.order
