"""Twins: gene vectors that are one network, recognised from what the search has evaluated.

Many spaces encode one network several ways: NAS-Bench-Graph's operations on symmetric nodes,
NAS-Bench-Macro's identity layers. Every encoding of a network has the same exact cost
(parameters, FLOPs, a table's cost columns), and a table gives it the same measured objectives
too. Without this module the surrogate loop's local search spends its budget on them: the
unvisited neighbours of the most accurate network are mostly its own other encodings, each
predicted as good as it, each evaluated to learn nothing (191 of 300 evaluations on
NAS-Bench-Graph Cora, seed 0).

The evidence comes from the run alone - no unevaluated row is read: among the evaluated
networks, every one whose exact cheap objectives match an earlier one's is a *cost match*; a
match whose expensive objectives are equal too is a twin. Once the share of matches that were
twins (Laplace-smoothed, ``(twins + 1) / (matches + 2)``) reaches :data:`EVIDENCE`, an unvisited
candidate whose cheap objectives match evaluated networks that all measured the same is presumed
to be their twin: the loop shows it with their measured objectives and never sends it. Where
equal costs do not mean one network - FCNet's configurations of one size, differently trained
networks of one size - the matches are not twins, the share stays low and nothing is presumed.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

EVIDENCE = 0.8  # presume twins once this (smoothed) share of cost matches were twins: 3 of 3, 7 of 8


class Twins:
    """What the archive ``F`` (every evaluated network's objectives, in evaluation-independent
    order) says about twins, with ``cheap`` and ``expensive`` the objective indices."""

    def __init__(self, F: np.ndarray, cheap: Sequence[int], expensive: Sequence[int]):
        F = np.asarray(F, float).reshape(len(F), -1)
        self.cheap, self.expensive = list(cheap), list(expensive)
        self.matches = self.twins = 0
        groups: Dict[tuple, list] = {}
        if self.cheap and self.expensive:
            for f in F:
                groups.setdefault(self.signature(f), []).append(f)
        self.values: Dict[tuple, np.ndarray] = {}  # signature -> the objectives its networks all measured
        for sig, rows in groups.items():
            first = rows[0]
            same = [bool(np.array_equal(r[self.expensive], first[self.expensive])) for r in rows[1:]]
            self.matches += len(same)
            self.twins += sum(same)
            if all(same):
                self.values[sig] = first
        self.presumed = (self.twins + 1) / (self.matches + 2) >= EVIDENCE

    def signature(self, f: np.ndarray) -> tuple:
        return tuple(float(v) for v in np.asarray(f, float)[self.cheap])

    def of(self, f: np.ndarray) -> Optional[np.ndarray]:
        """The measured objectives of the evaluated networks ``f`` (a candidate's objectives, cheap
        ones exact) is presumed a twin of, or None."""
        if not self.presumed:
            return None
        return self.values.get(self.signature(f))

    def info(self) -> dict:
        return {"cost_matches": self.matches, "twins": self.twins, "presumed": bool(self.presumed)}
