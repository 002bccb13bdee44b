"""Typed genes and their integer encoding, shared by every engine and space.

A :class:`GeneSpec` is an ordered list of genes; each is an integer range, a choice (stored by
index, because string choices come back truncated from some pymoo versions) or a binary flag.
Engines see only integer vectors with bounds ``[0, n_values - 1]`` (or ``[low, high]`` for integer
ranges); :meth:`GeneSpec.decode` turns a vector into a ``{name: value}`` dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class Gene:
    name: str
    kind: str  # "int" | "choice" | "binary"
    low: int = 0
    high: int = 1
    choices: Tuple[Any, ...] = ()

    @staticmethod
    def integer(name: str, low: int, high: int) -> "Gene":
        if int(low) > int(high):
            raise UserError(f"gene '{name}' has an empty range [{low}, {high}]; use low <= high")
        return Gene(name, "int", int(low), int(high))

    @staticmethod
    def choice(name: str, choices: Sequence[Any]) -> "Gene":
        if not choices:
            raise UserError(f"gene '{name}' has no choices; give at least one value")
        return Gene(name, "choice", 0, len(choices) - 1, tuple(choices))

    @staticmethod
    def binary(name: str) -> "Gene":
        return Gene(name, "binary", 0, 1)

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
