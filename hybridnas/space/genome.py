"""Network genomes: how searched blocks are assembled into a whole network.

A genome has a stem width and, per stage, four genes: how many blocks (cells) the stage stacks,
which block of the library it uses, a width multiplier, and whether the stage starts by
downsampling (its first cell is then the block's reduction cell). A stage's cell width is
``even(base_width x width x 2^d)`` with ``d`` the number of downsamplings so far, the DARTS rule
of doubling channels when the resolution halves, scaled by the gene.

String form (timm-style, round-trips through :meth:`Genome.parse`)::

    genome := "stem" STEM ("-" stage)*
    stage  := "r" REPEATS "b" BLOCK "w" WIDTH "d" (0|1)

    stem16-r2b0w1d0-r1b2w1.5d1-r3b1w2d1

:class:`ArchSpec` is the whole, self-contained description of one network (genome, the block
library it indexes, base width, input and output shape): what export writes as JSON and what
``hybridnas.load`` rebuilds from. Its :attr:`arch_id` is a stable hash, the cache key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from ..errors import UserError
from .genes import Gene, GeneSpec
from .genotype import BlockGenotype, CellGenotype


@dataclass(frozen=True)
class Stage:
    repeats: int
    block: int
    width: float
    down: bool

    def to_string(self) -> str:
        return f"r{self.repeats}b{self.block}w{self.width:g}d{int(self.down)}"


_STAGE_RE = re.compile(r"^r(\d+)b(\d+)w([0-9.eE+-]+)d([01])$")


@dataclass(frozen=True)
class Genome:
    stem: int
    stages: Tuple[Stage, ...]

    def to_string(self) -> str:
        return "-".join([f"stem{self.stem}"] + [s.to_string() for s in self.stages])

    __str__ = to_string

    @classmethod
    def parse(cls, text: str) -> "Genome":
        parts = text.strip().split("-")
        err = UserError(f"cannot parse genome '{text}': expected e.g. 'stem16-r2b0w1d0-r1b1w1.5d1'")
        if not parts or not parts[0].startswith("stem"):
            raise err
        try:
            stem = int(parts[0][4:])
        except ValueError:
            raise err from None
        stages = []
        for p in parts[1:]:
            m = _STAGE_RE.match(p)
            if not m:
                raise err
            stages.append(Stage(int(m.group(1)), int(m.group(2)), float(m.group(3)), m.group(4) == "1"))
        return cls(stem, tuple(stages))

    def cells(self, base_width: int) -> List[Tuple[int, bool, int]]:
        """``(channels, reduction, block index)`` for every cell, in order."""
        out = []
        downs = 0
        for st in self.stages:
            if st.down:
                downs += 1
            c = even_channels(base_width * st.width * (2**downs))
            for k in range(st.repeats):
                out.append((c, bool(st.down and k == 0), st.block))
        return out


def even_channels(v: float) -> int:
    """Round to the nearest even number >= 2 (reduction cells split channels in two)."""
    return max(2, 2 * int(round(v / 2.0)))


class GenomeSpace:
    """The network genes of a space, and the integer encoding engines see."""

    def __init__(self, network_cfg, n_blocks: int):
        self.cfg = network_cfg
        self.n_blocks = n_blocks
        # stem and width are ordered numbers, the block is one of an unordered library, the
        # downsampling flag is binary (the engines vary each type with its own operator)
        genes = [Gene.choice("stem", tuple(network_cfg.stem), "ordinal")]
        lo, hi = network_cfg.blocks
        for s in range(network_cfg.stages):
            genes += [
                Gene.integer(f"s{s}.repeats", lo, hi),
                Gene.choice(f"s{s}.block", tuple(range(n_blocks)), "categorical"),
                Gene.choice(f"s{s}.width", tuple(network_cfg.widths), "ordinal"),
                Gene.choice(f"s{s}.down", tuple(dict.fromkeys(int(v) for v in network_cfg.downsample)), "binary"),
            ]
        self.spec = GeneSpec(genes)

    def decode(self, x) -> Genome:
        v = self.spec.decode(x)
        stages = tuple(
            Stage(v[f"s{s}.repeats"], v[f"s{s}.block"], float(v[f"s{s}.width"]), bool(v[f"s{s}.down"]))
            for s in range(self.cfg.stages)
        )
        return Genome(int(v["stem"]), stages)

    def encode(self, g: Genome):
        values: Dict[str, Any] = {"stem": g.stem}
        for s, st in enumerate(g.stages):
            values.update(
                {f"s{s}.repeats": st.repeats, f"s{s}.block": st.block, f"s{s}.width": st.width,
                 f"s{s}.down": int(st.down)}
            )
        return self.spec.encode(values)


@dataclass(frozen=True)
class ArchSpec:
    """Everything needed to rebuild one network without its run directory."""

    genome: Genome
    blocks: Tuple[BlockGenotype, ...]
    base_width: int
    nodes: int
    in_chans: int
    num_classes: int
    image_size: Tuple[int, int]

    def __post_init__(self):
        for st in self.genome.stages:
            if not 0 <= st.block < len(self.blocks):
                raise UserError(
                    f"genome '{self.genome}' uses block {st.block}, but the library has {len(self.blocks)} blocks"
                )
        for b in self.blocks:
            for cell in (b.normal, b.reduce):
                if cell.n_nodes != self.nodes:
                    raise UserError(f"block '{b}' has {cell.n_nodes} nodes, expected {self.nodes}")

    @property
    def arch_id(self) -> str:
        """Stable id: the genome, the genotypes of the blocks it uses, and the shapes around it."""
        used = sorted({st.block for st in self.genome.stages})
        key = "|".join(
            [self.genome.to_string(), f"base{self.base_width}",
             f"in{self.in_chans}x{self.image_size[0]}x{self.image_size[1]}", f"out{self.num_classes}"]
            + [f"{i}={self.blocks[i]}" for i in used]
        )
        return hashlib.sha1(key.encode()).hexdigest()[:12]

    def cells(self) -> List[Tuple[int, bool, CellGenotype]]:
        return [(c, red, self.blocks[b].cell(red)) for c, red, b in self.genome.cells(self.base_width)]

    def to_json(self) -> Dict[str, Any]:
        return {
            "genome": self.genome.to_string(),
            "blocks": [b.to_string() for b in self.blocks],
            "base_width": self.base_width,
            "nodes": self.nodes,
            "in_chans": self.in_chans,
            "num_classes": self.num_classes,
            "image_size": list(self.image_size),
            "arch_id": self.arch_id,
        }

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "ArchSpec":
        try:
            spec = cls(
                genome=Genome.parse(data["genome"]),
                blocks=tuple(BlockGenotype.parse(b) for b in data["blocks"]),
                base_width=int(data["base_width"]),
                nodes=int(data["nodes"]),
                in_chans=int(data["in_chans"]),
                num_classes=int(data["num_classes"]),
                image_size=tuple(int(v) for v in data["image_size"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"architecture JSON is incomplete or malformed ({exc!r}); re-export the model") from None
        if "arch_id" in data and data["arch_id"] != spec.arch_id:
            raise UserError(
                f"architecture JSON names id {data['arch_id']} but describes {spec.arch_id}; the file was edited"
            )
        return spec
