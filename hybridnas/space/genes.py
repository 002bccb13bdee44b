"""Typed genes and their integer encoding, shared by every engine and space.

A :class:`GeneSpec` is an ordered list of genes; each is an integer range, a choice (stored by
index, because string choices come back truncated from some pymoo versions) or a binary flag.
Engines see only integer vectors with bounds ``[0, n_values - 1]`` (or ``[low, high]`` for integer
ranges); :meth:`GeneSpec.decode` turns a vector into a ``{name: value}`` dict.

Every gene also has a *variable type*, which decides how the engines vary it
(:mod:`hybridnas.network.engines.variation`):

- ``ordinal``: ordered values - an integer range (depth), or numbers listed in order (a width
  multiplier, a stem width); a mutation steps to a neighbouring value or resets;
- ``categorical``: unordered choices (which block, which op, a string column of a table); a
  mutation resets to another choice, never "one further";
- ``binary``: a flag (downsample or not); a mutation flips it.

Default types: an integer range and a list of numbers are ordinal (neighbours are adjacent in the
order listed), anything else categorical; a space can say otherwise (``type: categorical``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import UserError

VTYPES = ("ordinal", "categorical", "binary")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


@dataclass(frozen=True)
class Gene:
    name: str
    kind: str  # storage: "int" (the code is the value) | "choice" (the code indexes choices) | "binary"
    low: int = 0
    high: int = 1
    choices: Tuple[Any, ...] = ()
    vtype: str = "ordinal"  # variation: "ordinal" | "categorical" | "binary"

    def __post_init__(self):
        if self.vtype not in VTYPES:
            raise UserError(f"gene '{self.name}' has an unknown type '{self.vtype}'; use one of: {', '.join(VTYPES)}")

    @staticmethod
    def integer(name: str, low: int, high: int, vtype: str = "ordinal") -> "Gene":
        if int(low) > int(high):
            raise UserError(f"gene '{name}' has an empty range [{low}, {high}]; use low <= high")
        return Gene(name, "int", int(low), int(high), vtype=vtype)

    @staticmethod
    def choice(name: str, choices: Sequence[Any], vtype: Optional[str] = None) -> "Gene":
        """A choice among ``choices``; ``vtype`` None: ordinal for numbers, categorical otherwise."""
        if not choices:
            raise UserError(f"gene '{name}' has no choices; give at least one value")
        if vtype is None:
            vtype = "ordinal" if all(_is_number(c) for c in choices) else "categorical"
        if vtype == "binary" and len(choices) > 2:
            raise UserError(f"gene '{name}' is binary but has {len(choices)} choices; give two, or type categorical")
        return Gene(name, "choice", 0, len(choices) - 1, tuple(choices), vtype)

    @staticmethod
    def binary(name: str) -> "Gene":
        return Gene(name, "binary", 0, 1, vtype="binary")

    def value(self, code: int) -> Any:
        code = int(min(max(int(round(code)), self.low), self.high))
        if self.kind == "choice":
            return self.choices[code]
        if self.kind == "binary":
            return bool(code)
        return code

    def code(self, value: Any) -> int:
        if self.kind == "choice":
            for i, c in enumerate(self.choices):
                if c == value:
                    return i
            raise UserError(f"value {value!r} is not a choice of gene '{self.name}' ({list(self.choices)})")
        if self.kind == "binary":
            return int(bool(value))
        v = int(value)
        if not self.low <= v <= self.high:
            raise UserError(f"value {v} of gene '{self.name}' is outside [{self.low}, {self.high}]")
        return v

    @property
    def size(self) -> int:
        return self.high - self.low + 1


class GeneSpec:
    def __init__(self, genes: Sequence[Gene]):
        self.genes: List[Gene] = list(genes)
        names = [g.name for g in self.genes]
        if len(set(names)) != len(names):
            raise UserError(f"gene names must be unique, got {names}")

    @property
    def n_var(self) -> int:
        return len(self.genes)

    @property
    def xl(self) -> np.ndarray:
        return np.array([g.low for g in self.genes], dtype=int)

    @property
    def xu(self) -> np.ndarray:
        return np.array([g.high for g in self.genes], dtype=int)

    @property
    def vtypes(self) -> Tuple[str, ...]:
        """The variable type of each gene, in order (what the engines' operators read)."""
        return tuple(g.vtype for g in self.genes)

    def masks(self) -> Dict[str, np.ndarray]:
        """One boolean column mask per variable type (``ordinal``, ``categorical``, ``binary``)."""
        v = np.array(self.vtypes)
        return {t: v == t for t in VTYPES}

    def decode(self, x: Sequence[float]) -> Dict[str, Any]:
        return {g.name: g.value(v) for g, v in zip(self.genes, x)}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.array([g.code(values[g.name]) for g in self.genes], dtype=int)

    def size(self) -> int:
        n = 1
        for g in self.genes:
            n *= g.size
        return n

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.stack([rng.integers(g.low, g.high + 1, size=n) for g in self.genes], axis=1)
