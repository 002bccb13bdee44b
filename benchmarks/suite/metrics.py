"""How a search is scored on a table: three numbers of the first N distinct networks it evaluated.

- ``hv_gap``: ``1 - HV(found) / HV(exact)`` in %, objectives normalised by the table's exact ranges
  (costs on log10), reference point 1.1 in each (``table_reference``);
- ``regret``: best-error regret, the error of the most accurate network found minus the table's
  best, in points (an objective other than ``error`` in its own units);
- ``acc_gap``: accurate-end HV gap, the same gap with the error reference moved to the table's
  10th-percentile error, so only networks among the 10 % most accurate count: the end of the front
  that the plain gap barely weighs (a search that never meets the top 10 % can score well there).
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from hybridnas.core.moo import normalise
from hybridnas.core.objectives import front_hypervolume, objective_value, pareto_front
from hybridnas.network.points import table_reference

METRICS = {
    "hv_gap": "hypervolume gap to the exact front, %",
    "regret": "best-error regret: error of the best network found minus the table's best, points",
    "acc_gap": "accurate-end hypervolume gap (error reference at the table's 10th-percentile error), %",
}
ACCURATE_QUANTILE = 10  # percent of the table counted as its accurate end


class Scorer:
    """The exact front and references of one table, and the scores of a search's evaluations."""

    def __init__(self, table, rows: Dict[str, dict], objectives: Sequence[str], maximize: Sequence[str] = ()):
        self.rows, self.objectives, self.maximize = rows, list(objectives), list(maximize)
        self.reference = table_reference(table, objectives, maximize)
        self.exact = pareto_front(list(rows.values()), objectives, maximize)
        self.hv_exact = front_hypervolume(self.exact, self.reference)
        self.acc = "error" if "error" in objectives else objectives[0]
        self.scale = 100.0 if self.acc == "error" else 1.0
        j = self.objectives.index(self.acc)
        values = np.array([objective_value(r, self.acc, maximize) for r in rows.values()])
        self.best, self.worst = float(values.min()), float(values.max())
        self.q = float(np.percentile(values, ACCURATE_QUANTILE))
        ref = self.reference
        q_norm = normalise(np.array([[self.q if i == j else lo for i, lo in enumerate(ref["lower"])]]),
                           ref["lower"], ref["upper"], ref["log_scale"])[0, j]
        point = [float(q_norm) if i == j else p for i, p in enumerate(ref["ref_point"])]
        self.acc_reference = {**ref, "ref_point": point}
        self.hv_acc_exact = front_hypervolume(self.exact, self.acc_reference)
        self.crowded = int(np.sum(values <= self.best + 1.0 / self.scale))  # networks within a point of the best

    def score(self, arch_ids: List[str]) -> Dict[str, float]:
        records = [self.rows[a] for a in arch_ids]
        if not records:  # a search that met no network scores as badly as can be
            return {"hv_gap": 100.0, "regret": self.scale * (self.worst - self.best), "acc_gap": 100.0}
        front = pareto_front(records, self.objectives, self.maximize)
        best = min(objective_value(r, self.acc, self.maximize) for r in records)
        return {
            "hv_gap": 100 * (1 - front_hypervolume(front, self.reference) / self.hv_exact),
            "regret": self.scale * (best - self.best),
            "acc_gap": 100 * (1 - front_hypervolume(front, self.acc_reference) / self.hv_acc_exact),
        }

    def describe(self) -> str:
        unit = " points" if self.scale == 100 else ""
        return (f"exact front: {len(self.exact)} networks, hypervolume {self.hv_exact:.4f}; best {self.acc} "
                f"{self.scale * self.best:.2f}{unit}, 10th percentile {self.scale * self.q:.2f}{unit}; "
                f"{self.crowded} networks within 1{unit} of the best")


def cell(values: Sequence[float]) -> str:
    """``mean +- std (worst W)`` of one method's seeds (worst: the largest, every metric is a loss)."""
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.2f} +- {v.std():.2f} ({v.max():.2f})"


ALPHA = 0.05  # a method is "significantly better" than another below this p-value


def significantly_better(reference: Sequence[float], others: Dict[str, Sequence[float]],
                         alpha: float = ALPHA) -> Dict[str, float]:
    """The methods in ``others`` whose seeds score lower than ``reference``'s (every score is a
    loss), by a one-sided Mann-Whitney U test at ``alpha``, with their p-values. The seeds of two
    methods are independent runs, so the test is unpaired; it is not corrected for the number of
    methods compared, which errs against ``reference``: a row it passes has no method that is
    better than it by what the seeds can tell."""
    from scipy.stats import mannwhitneyu

    ref = np.asarray(reference, dtype=float)
    out = {}
    for m, v in others.items():
        v = np.asarray(v, dtype=float)
        if len(v) < 2 or len(ref) < 2 or v.mean() >= ref.mean():
            continue
        p = float(mannwhitneyu(v, ref, alternative="less").pvalue)
        if p < alpha:
            out[m] = p
    return out
