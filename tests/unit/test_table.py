"""Tabular spaces: loading the shipped example, one-line validation errors, lookups."""

import csv

import numpy as np
import pytest

from hybridnas.config import SPACES_DIR, load_config
from hybridnas.errors import UserError
from hybridnas.space.table import declared_genes, load_table

CSV = """\
# a comment line is allowed before the header
a,b,op,val_acc,params,latency
1,0.5,x,0.90,100,1.5
1,1.0,x,0.92,200,2.5
2,0.5,x,0.93,300,3.5
2,1.0,x,0.95,400,4.5
1,0.5,y,0.80,50,1.0
1,1.0,y,0.85,80,1.2
2,0.5,y,0.86,90,1.3
2,1.0,y,0.88,150,1.4
3,0.5,x,0.99,999,9.9
"""

SPACE = """\
name: t
genes:
  a: {low: 1, high: 2}
  b: [0.5, 1]
  op: [x, y]
table:
  path: t.csv
objectives: [error, params]
evaluation:
  evaluator: table
engine: {pop_size: 4, generations: 2}
"""


def space(tmp_path, text=SPACE, table=CSV, name="s.yaml"):
    (tmp_path / "t.csv").write_text(table)
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_shipped_example_is_complete_and_matches_its_csv():
    cfg = load_config("digits_table")
    assert cfg.tabular and cfg.data is None and cfg.network is None and cfg.evaluation.epochs is None
    t = load_table(cfg)
    assert t.complete and len(t.rows) == 288 == t.spec.size() and t.ignored == 0
    path = SPACES_DIR / "tables" / "digits_cells.csv"
    rows = list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))
    first = rows[0]
    x = t.spec.encode({g.name: (first[g.name] if g.kind == "choice" and isinstance(g.choices[0], str) else
                                float(first[g.name])) for g in t.spec.genes})
    assert t.row(x)["val_acc"] == float(first["val_acc"]) and t.row(x)["params"] == int(first["params"])
    p = t.point(x)
    assert p.genome.startswith(f"stem={first['stem']},depth1=") and len(p.arch_id) == 12
    assert t.point(x).arch_id == p.arch_id != t.point(t.spec.encode({**t.spec.decode(x), "stem": 16})).arch_id


def test_path_is_relative_to_the_space_file_and_rows_outside_the_genes_are_left_out(tmp_path):
    cfg = load_config(space(tmp_path))
    t = load_table(cfg)
    assert t.complete and len(t.rows) == 8 and t.ignored == 1  # the row with a=3 is outside
    assert "1 rows outside the declared genes left out" in t.describe()
    row = t.row(t.spec.encode({"a": 2, "b": 1.0, "op": "y"}))
    assert row["params"] == 150 and row["latency"] == 1.4
    assert t.results(row) == {"val_acc": 0.88, "params": 150, "latency": 1.4}


def test_an_incomplete_table_is_searchable(tmp_path):
    lines = CSV.splitlines()
    t = load_table(load_config(space(tmp_path, table="\n".join(lines[:3] + lines[4:]) + "\n")))
    assert not t.complete and len(t.rows) == 7
    assert t.row(t.spec.encode({"a": 1, "b": 1.0, "op": "x"})) is None


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda s, c: (s.replace("path: t.csv", "path: nope.csv"), c), r"table '.*nope.csv' \(table.path\) not found"),
        (lambda s, c: (s.replace("op: [x, y]", "op: [x, y]\n  depth: [1]"), c),
         "gene 'depth' has no column in table t.csv; its columns are: a, b, op, val_acc"),
        (lambda s, c: (s.replace("[error, params]", "[error, flops]"), c),
         r"'objectives\[1\]' 'flops' is not a column"),
        (lambda s, c: (s.replace("[error, params]", "[a, params]"), c), "is a gene, not a result column"),
        (lambda s, c: (s.replace("op: [x, y]", "op: [x, y, z]"), c), "gene 'op' value 'z' occurs in no row"),
        (lambda s, c: (s.replace("b: [0.5, 1]", "b: [0.5, 1, 1.0]"), c), "'genes.b' lists a value twice"),
        (lambda s, c: (s.replace("a: {low: 1, high: 2}", "a: 3"), c), r"'genes.a' must be a list of choices or \{low"),
        (lambda s, c: (s, c + "1,0.5,x,0.5,1,1\n"), "lines 3 and 12 have the same genes"),
        (lambda s, c: (s, c + "2,1.0\n"), "line 12: expected 6 columns, got 2"),
        (lambda s, c: (s, c.replace("0.93,300", "0.93,lots")),
         "line 5: column 'params' holds 'lots', not a finite number"),
        (lambda s, c: (s, c.replace("0.93,300", "93,300")), r"line 5: val_acc 93 is not in \[0, 1\]"),
        (lambda s, c: (s, c.replace("a,b,op,", "a,genome,op,")), "column 'genome' clashes with a field"),
        (lambda s, c: (s, c.replace("a,b,op,", "a,a,op,")), "column names must be unique"),
        (lambda s, c: (s, "# only a comment\n"), "has no header line"),
        (lambda s, c: (s + "constraints: {max_flops: 10}\n", c), "the constraint on 'flops' needs a 'flops' column"),
        (lambda s, c: (s + "cell: {ops: [skip_connect], nodes: 1}\n", c), "'cell' has no meaning in a tabular space"),
        (lambda s, c: (s.replace("evaluator: table", "evaluator: local"), c), "set it to 'table'"),
        (lambda s, c: (s.replace("evaluator: table", "evaluator: table\n  epochs: 3"), c),
         "'evaluation.epochs' has no meaning in a tabular space"),
        (lambda s, c: (s.replace("evaluator: table", "evaluator: table\n  fidelity: {budgets: [1]}"), c),
         "budgets' has no meaning in a tabular space"),
        (lambda s, c: (s.replace("path: t.csv", "path: t.csv\n  maximize: [latency]"), c),
         r"'table.maximize\[0\]' 'latency' is not one of the objectives"),
        (lambda s, c: (s.replace("table:\n  path: t.csv\n", ""), c), "'table' is missing"),
    ],
)
def test_bad_tabular_spaces_are_one_line_errors(tmp_path, edit, match):
    text, table = edit(SPACE, CSV)
    with pytest.raises(UserError, match=match) as e:
        load_config(space(tmp_path, text, table))
    assert "\n" not in str(e.value)


def test_a_table_without_genes_and_the_table_evaluator_without_a_table_are_refused(tmp_path):
    with pytest.raises(UserError, match="'table' needs 'genes'"):
        load_config(None, ["table.path=x.csv"])
    with pytest.raises(UserError, match="'table' needs a tabular space"):
        load_config(None, ["evaluation.evaluator=table"])


def test_maximized_objectives_and_integer_genes_from_floats(tmp_path):
    text = (SPACE.replace("[error, params]", "[val_acc, latency]")
            .replace("path: t.csv", "path: t.csv\n  maximize: [val_acc]"))
    cfg = load_config(space(tmp_path, text, CSV.replace("\n2,", "\n2.0,")))
    t = load_table(cfg)
    assert len(t.rows) == 8
    from hybridnas.core.objectives import objective_value

    r = {**t.row(t.spec.encode({"a": 2, "b": 0.5, "op": "x"})), "status": "ok"}
    assert objective_value(r, "val_acc", cfg.table.maximize) == -0.93
    assert objective_value(r, "latency", cfg.table.maximize) == 3.5


def test_declared_genes():
    spec = declared_genes({"d": {"low": 1, "high": 3}, "w": [0.5, 1.0], "k": ["a"]})
    assert [g.kind for g in spec.genes] == ["int", "choice", "choice"] and spec.size() == 6
    assert spec.decode(np.array([3, 1, 0])) == {"d": 3, "w": 1.0, "k": "a"}
