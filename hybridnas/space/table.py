"""Tabular spaces: genes declared in the space file, results looked up in a CSV (NAS-Bench style).

A tabular space names its genes directly (``name: [choices]`` or ``name: {low: L, high: H}``)
and a CSV with one column per gene plus result columns (objectives, accuracies, costs). The
engines search the genes as they search genomes; a candidate's results are its row, nothing is
trained. :func:`load_table` reads the CSV and checks it against the space - every gene has a
column, every declared value occurs, objective columns are numeric, no two rows share genes - and
raises one-line :class:`~hybridnas.errors.UserError` s naming the line or column. Rows whose
gene values are not declared are left out, so a space can search a part of a larger table; a
combination the table lacks is infeasible (a constraint) rather than an error.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..config import RunConfig
from ..errors import UserError
from ..registry import CONFIG_HOOKS
from .genes import VTYPES, Gene, GeneSpec

# Fields of a search record; a table column of the same name would be overwritten by them.
RESERVED = ("arch_id", "genome", "status", "epochs", "generation", "weights", "reason", "x", "predicted",
            "predicted_std", "predictor", "selected_by")
# Constraints and the column each one reads.
CONSTRAINT_COLUMNS = (("max_params", "params"), ("max_flops", "flops"), ("max_latency_ms", "latency"))


def declared_genes(genes: Mapping[str, Any], source: str = "config") -> GeneSpec:
    """The genes of a tabular space: a list is a choice, ``{low, high}`` an integer range.

    Numbers (a range, or a list of numbers) are ordinal and strings categorical, unless the
    declaration says ``type``: ``{choices: [1, 3, 5], type: categorical}`` or
    ``{low: 0, high: 4, type: categorical}`` (``ordinal``, ``categorical`` or ``binary``).
    """
    if not isinstance(genes, Mapping) or not genes:
        raise UserError(f"{source}: 'genes' must map each gene name to a list of choices or {{low: L, high: H}}")
    out = []
    for name, decl in genes.items():
        key = f"genes.{name}"
        vtype = None
        if isinstance(decl, Mapping) and "type" in decl:
            vtype = decl["type"]
            if vtype not in VTYPES:
                raise UserError(f"{source}: '{key}.type' is '{vtype}'; use one of: {', '.join(VTYPES)}")
            decl = {k: v for k, v in decl.items() if k != "type"}
        if isinstance(decl, Mapping) and set(decl) == {"choices"}:
            decl = decl["choices"]
            if not isinstance(decl, (list, tuple)):
                raise UserError(f"{source}: '{key}.choices' must be a list of values, got {decl!r}")
        if isinstance(decl, (list, tuple)):
            if not decl:
                raise UserError(f"{source}: '{key}' has no choices; list at least one value")
            for v in decl:
                if isinstance(v, (list, dict)) or v is None:
                    raise UserError(f"{source}: '{key}' choices must be numbers or strings, got {v!r}")
            if len(set(map(_canon, decl))) != len(decl):
                raise UserError(f"{source}: '{key}' lists a value twice; list each once")
            if vtype == "binary" and len(decl) != 2:
                raise UserError(f"{source}: '{key}' is binary but lists {len(decl)} choices; give two, or another type")
            out.append(Gene.choice(str(name), tuple(decl), vtype))
        elif isinstance(decl, Mapping) and set(decl) == {"low", "high"}:
            lo, hi = decl["low"], decl["high"]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
                raise UserError(f"{source}: '{key}' bounds must be integers, got low={lo!r}, high={hi!r}")
            if lo > hi:
                raise UserError(f"{source}: '{key}' is an empty range [{lo}, {hi}]; use low <= high")
            if vtype == "binary" and hi - lo != 1:
                raise UserError(f"{source}: '{key}' is binary but spans {hi - lo + 1} values; "
                                "give two, or another type")
            out.append(Gene.integer(str(name), lo, hi, vtype or "ordinal"))
        else:
            raise UserError(f"{source}: '{key}' must be a list of choices or {{low: L, high: H}} (either may add "
                            f"type: ordinal|categorical|binary, a list then as {{choices: [...]}}), got {decl!r}")
    return GeneSpec(out)


def _canon(v: Any) -> str:
    """One spelling per value, so 1, 1.0 and '1' in a CSV all match a declared 1."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)) and not (isinstance(v, float) and not math.isfinite(v)):
        return repr(float(v))
    return str(v)


def _parse(text: str) -> Any:
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    return t


@dataclass(frozen=True)
class TablePoint:
    genes: Dict[str, Any]
    arch_id: str
    genome: str


class Table:
    """A loaded, checked table: the gene spec, the rows by gene codes, exact bounds and front."""

    def __init__(self, path: Path, spec: GeneSpec, columns: List[str], rows: Dict[Tuple[int, ...], Dict[str, Any]],
                 ignored: int, sha256: str, objectives: Sequence[str], maximize: Sequence[str]):
        self.path = path
        self.spec = spec
        self.columns = columns
        self.rows = rows
        self.ignored = ignored
        self.sha256 = sha256
        self.objectives = tuple(objectives)
        self.maximize = tuple(maximize)

    @property
    def complete(self) -> bool:
        """Every combination of the declared genes has a row."""
        return len(self.rows) == self.spec.size()

    def point(self, x) -> TablePoint:
        genes = self.spec.decode(x)
        text = ",".join(f"{k}={v}" for k, v in genes.items())
        key = "table|" + "|".join(f"{k}={_canon(v)}" for k, v in genes.items())
        aid = hashlib.sha1(key.encode()).hexdigest()[:12]
        return TablePoint(genes, aid, text)

    def row(self, x) -> Optional[Dict[str, Any]]:
        return self.rows.get(tuple(int(round(v)) for v in x))

    def results(self, row: Dict[str, Any]) -> Dict[str, Any]:
        """A row's result columns (everything but the genes), as a record carries them."""
        genes = {g.name for g in self.spec.genes}
        return {k: v for k, v in row.items() if k not in genes}

    def describe(self) -> str:
        extra = f", {self.ignored} rows outside the declared genes left out" if self.ignored else ""
        full = "complete" if self.complete else f"{self.spec.size() - len(self.rows)} combinations missing"
        return f"table {self.path.name}: {len(self.rows)} rows ({full}{extra})"

    def info(self) -> Dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "rows": len(self.rows), "ignored_rows": self.ignored,
                "combinations": self.spec.size(), "columns": self.columns}


_CACHE: Dict[Tuple, Table] = {}


def load_table(cfg: RunConfig, source: str = "config") -> Table:
    """Read and check the table of a tabular space (memoised per file version and space)."""
    spec = declared_genes(cfg.genes, source)
    path = Path(cfg.table.path).expanduser()
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"{source}: table '{path}' (table.path) not found; "
                        "give the path of the CSV of results") from None
    c = cfg.constraints
    needs = tuple(col for key, col in CONSTRAINT_COLUMNS if getattr(c, key) is not None)
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, json.dumps(dict(cfg.genes), sort_keys=True, default=str),
           tuple(cfg.objectives), tuple(cfg.table.maximize), needs)
    if key not in _CACHE:
        _CACHE[key] = _read(path, spec, cfg.objectives, cfg.table.maximize, needs, source)
    return _CACHE[key]


def _read(path: Path, spec: GeneSpec, objectives, maximize, needs, source: str) -> Table:
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{source}: cannot read table '{path}' ({exc.strerror}); check table.path") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"table {name} is not UTF-8 text; save it as a UTF-8 CSV") from None
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (lines[start].startswith("#") or not lines[start].strip()):
        start += 1  # leading comment lines (provenance, units) are allowed
    reader = csv.reader(lines[start:])
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise UserError(f"table {name} has no header line; its first line must name the columns") from None
    except csv.Error as exc:
        raise UserError(f"table {name} line {start + 1}: malformed CSV ({exc})") from None
    if len(set(header)) != len(header) or not all(header):
        dup = sorted({h for h in header if header.count(h) > 1}) or ["(empty)"]
        raise UserError(f"table {name}: column names must be unique and non-empty (problem: {', '.join(dup)})")
    for col in header:
        if col in RESERVED:
            raise UserError(f"table {name}: column '{col}' clashes with a field of hybridnas records; rename it")
    genes = [g.name for g in spec.genes]
    known = ", ".join(header)
    for g in genes:
        if g not in header:
            raise UserError(f"{source}: gene '{g}' has no column in table {name}; its columns are: {known}")
    numeric = []
    for i, o in enumerate(objectives):
        if o in genes:
            raise UserError(f"{source}: 'objectives[{i}]' '{o}' is a gene, not a result column of table {name}")
        if o == "error":
            if "val_acc" not in header and "error" not in header:
                raise UserError(f"{source}: objective 'error' needs a 'val_acc' column (accuracy in [0, 1]) or an "
                                f"'error' column in table {name}; its columns are: {known}")
            numeric.append("val_acc" if "val_acc" in header else "error")
        elif o not in header:
            raise UserError(f"{source}: 'objectives[{i}]' '{o}' is not a column of table {name}; "
                            f"its columns are: {known}")
        else:
            numeric.append(o)
    for col in needs:
        if col not in header:
            raise UserError(f"{source}: the constraint on '{col}' needs a '{col}' column in table {name}; "
                            f"remove the constraint or add the column")
        numeric.append(col)

    codes = {g.name: {_canon(c): i for i, c in enumerate(g.choices)} for g in spec.genes if g.kind == "choice"}
    rows: Dict[Tuple[int, ...], Dict[str, Any]] = {}
    first_line: Dict[Tuple[int, ...], int] = {}
    seen = {g: set() for g in genes}
    ignored = 0
    for n, fields in enumerate(_rows(reader, name), start=start + 2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise UserError(f"table {name} line {n}: expected {len(header)} columns, got {len(fields)}")
        row = {h: _parse(f) for h, f in zip(header, fields)}
        key = []
        for g in spec.genes:
            v = row[g.name]
            if g.kind == "choice":
                code = codes[g.name].get(_canon(v))
            else:
                ok = isinstance(v, (int, float)) and float(v).is_integer() and g.low <= v <= g.high
                code = int(v) if ok else None
            if code is None:
                break
            key.append(code)
        if len(key) != len(genes):
            ignored += 1  # a value the space does not declare: this row is outside the searched part
            continue
        for col in numeric:
            v = row[col]
            if isinstance(v, str) or not math.isfinite(float(v)):
                raise UserError(f"table {name} line {n}: column '{col}' holds {fields[header.index(col)]!r}, "
                                f"not a finite number")
        if "error" in objectives and "val_acc" in header and not 0.0 <= float(row["val_acc"]) <= 1.0:
            raise UserError(f"table {name} line {n}: val_acc {row['val_acc']} is not in [0, 1]; give accuracies as "
                            f"fractions, or use the column as an objective listed in table.maximize")
        k = tuple(key)
        if k in rows:
            desc = ", ".join(f"{g}={row[g]}" for g in genes)
            raise UserError(f"table {name} lines {first_line[k]} and {n} have the same genes ({desc}); "
                            "keep one row per network")
        rows[k] = row
        first_line[k] = n
        for g in genes:
            seen[g].add(_canon(row[g]))
    if not rows:
        raise UserError(f"table {name} has no row within the declared genes; check the gene values against its columns")
    for g in spec.genes:
        values = g.choices if g.kind == "choice" else range(g.low, g.high + 1)
        for v in values:
            if _canon(v) not in seen[g.name]:
                found = ", ".join(sorted(seen[g.name]))
                raise UserError(f"gene '{g.name}' value {v!r} occurs in no row of table {name} (rows within the "
                                f"declared genes have: {found}); remove it from genes.{g.name}")
    sha = hashlib.sha256(raw).hexdigest()
    return Table(path, spec, header, rows, ignored, sha, objectives, maximize)


def _rows(reader, name):
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UserError(f"table {name} line {reader.line_num}: malformed CSV ({exc})") from None


@CONFIG_HOOKS.register("table")
def table_rows(cfg: RunConfig, source: str = "config") -> int:
    """The config's ``table`` hook: the table of a tabular space read and checked against its genes,
    objectives and constraints (:func:`load_table`); returns how many rows it has."""
    return len(load_table(cfg, source).rows)
