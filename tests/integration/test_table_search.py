"""Tabular search end to end: both engines on the shipped table, nothing trained, resume."""

import json
import shutil

import numpy as np
import pytest

from hybridnas.cli.main import main
from hybridnas.config import SPACES_DIR, load_config
from hybridnas.core.objectives import front_hypervolume, pareto_front
from hybridnas.space.table import load_table


def cli(*args):
    return main([str(a) for a in args])


def records(run):
    return [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("engine", ["pymoo", "deap"])
def test_engines_search_the_table_end_to_end(tmp_path, engine):
    assert cli("search", "digits_table", "--out", tmp_path, "--name", "t", "--quiet",
               "--set", f"engine.name={engine}", "--set", "engine.generations=6") == 0
    run = tmp_path / "t"
    table = load_table(load_config("digits_table"))
    by_id = {table.point(np.array(k)).arch_id: row for k, row in table.rows.items()}
    recs = records(run)
    assert len(recs) == len({r["arch_id"] for r in recs}) >= 12
    for r in recs:  # every result is its row of the table, looked up
        row = by_id[r["arch_id"]]
        assert r["status"] == "ok" and r["epochs"] is None
        assert (r["val_acc"], r["params"], r["flops"], r["network"]) == (row["val_acc"], row["params"], row["flops"],
                                                                         row["network"])
    for trained in ("blocks.json", "block", "weights", "dataset.json", "exports", "fidelity"):
        assert not (run / trained).exists(), trained
    assert json.loads((run / "table.json").read_text())["sha256"] == table.sha256
    gens = [json.loads((run / "generations" / f"gen_{g:03d}.json").read_text()) for g in range(6)]
    hv = [g["hypervolume"] for g in gens]
    assert hv == sorted(hv) and hv[-1] > 0  # the front of everything looked up only grows
    assert sum(g["new_results"].get("lookup", 0) for g in gens) == len(recs)
    # the front found is no better than the table's exact front, measured the same way
    ref = json.loads((run / "hv_reference.json").read_text())
    exact = pareto_front([{**row, "arch_id": a, "status": "ok"} for a, row in by_id.items()], ref["objectives"])
    assert hv[-1] <= front_hypervolume(exact, ref) + 1e-12
    front = json.loads((run / "front.json").read_text())["members"]
    assert {m["arch_id"] for m in front} <= set(by_id)
    assert json.loads((run / "front.json").read_text())["notes"] == ["columns as in the table; nothing was trained"]
    assert cli("search", "--resume", run, "--quiet") == 0  # a finished run resumes to the same records
    assert records(run) == recs


def test_resume_refuses_an_edited_table(tmp_path, capsys):
    shutil.copy(SPACES_DIR / "tables" / "digits_cells.csv", tmp_path / "t.csv")
    space = tmp_path / "s.yaml"
    space.write_text(f"extends: {SPACES_DIR / 'digits_table.yaml'}\ntable: {{path: t.csv}}\n"
                     "engine: {generations: 2}\n")
    assert cli("search", space, "--out", tmp_path, "--name", "r", "--quiet") == 0
    text = (tmp_path / "t.csv").read_text()
    (tmp_path / "t.csv").write_text(text.replace(",0.896936,", ",0.5,", 1))
    assert cli("search", "--resume", tmp_path / "r", "--quiet") == 2
    assert "changed since run" in capsys.readouterr().err


def test_an_incomplete_table_makes_missing_rows_infeasible(tmp_path):
    from hybridnas.evaluate.table import TableEvaluator
    from hybridnas.network.points import TablePoints
    from hybridnas.network.problem import NetworkProblem
    from hybridnas.progress import Progress
    from hybridnas.store import RunStore
    from tests.unit.test_table import CSV, SPACE

    lines = CSV.splitlines()
    (tmp_path / "t.csv").write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # no row for a=1, b=1.0, op=x
    (tmp_path / "s.yaml").write_text(SPACE.replace("generations: 2", "generations: 6"))
    cfg = load_config(str(tmp_path / "s.yaml"))
    table = load_table(cfg)
    store = RunStore(tmp_path / "run")
    problem = NetworkProblem(cfg, TablePoints(table), TableEvaluator(cfg), store, Progress(quiet=True))
    X = np.array([table.spec.encode({"a": 1, "b": b, "op": "x"}) for b in (0.5, 1.0)])
    F, G = problem.evaluate(X)
    assert problem.n_constr == 1 and G[0, 0] <= 0 < G[1, 0]
    assert [r["genome"] for r in store.records("evaluations.jsonl")] == ["a=1,b=0.5,op=x"]
    # the missing row's error is the worst possible, 1: the search reads no row it has not evaluated
    assert F[0, 0] == pytest.approx(0.1) and F[1, 0] == 1.0
    # and the engines search it end to end
    assert cli("search", tmp_path / "s.yaml", "--out", tmp_path, "--name", "r", "--quiet") == 0
    assert all(r["genome"] != "a=1,b=1.0,op=x" for r in records(tmp_path / "r"))


def test_plot_and_report_of_a_tabular_run_skip_the_block_figures(tmp_path, capsys):
    from html.parser import HTMLParser

    assert cli("search", "digits_table", "--out", tmp_path, "--name", "t", "--quiet",
               "--set", "engine.generations=3") == 0
    run = tmp_path / "t"
    capsys.readouterr()
    assert cli("plot", run) == 0  # all that apply: no cells or alpha figures (there are no blocks)
    written = capsys.readouterr().out.split()
    drawn = ("front", "front3d", "parallel", "hypervolume", "surrogate")  # the surrogate loop is on by default
    assert written == [str(run / "plots" / f"{n}.png") for n in drawn]
    assert all((run / "plots" / f"{n}.png").is_file() for n in drawn)
    assert not (run / "plots" / "cells").exists() and not list((run / "plots").glob("block_*"))
    for name in ("cells", "alpha", "proxy"):  # asked for by name: one line saying why, nothing drawn
        assert cli("plot", run, "--figure", f"hypervolume,{name}", "--format", "svg") == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "tabular run" in err and f"'{name}'" in err, err
        assert not (run / "plots" / "hypervolume.svg").exists()

    assert cli("report", run) == 0
    page, md = run / "report.html", run / "report.md"
    assert page.is_file() and md.is_file()
    text = md.read_text()
    assert "a tabular run has no block stage" in text and "## Configuration" in text

    class Refs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.src = []

        def handle_starttag(self, tag, attrs):
            self.src += [v for k, v in attrs if tag == "img" and k == "src"]

    refs = Refs()
    refs.feed(page.read_text())
    assert sorted(refs.src) == sorted(f"plots/{n}.png" for n in drawn)
    assert all((run / ref).is_file() for ref in refs.src)


def test_report_of_a_table_without_cost_columns_leaves_out_the_figures_that_need_them(tmp_path, capsys):
    from tests.unit.test_table import CSV, SPACE

    (tmp_path / "t.csv").write_text(CSV)  # val_acc, params, latency: no flops, no test_acc
    (tmp_path / "s.yaml").write_text(SPACE)
    assert cli("search", tmp_path / "s.yaml", "--out", tmp_path, "--name", "r", "--quiet") == 0
    run = tmp_path / "r"
    assert cli("report", run) == 0
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["hypervolume.png", "surrogate.png"]
    assert "](plots/hypervolume.png)" in (run / "report.md").read_text()
    capsys.readouterr()
    assert cli("plot", run, "--figure", "front") == 2
    assert "no column 'flops'" in capsys.readouterr().err
    assert cli("pick", run, "--rule", "max-acc") == 0  # columns the table lacks print as '-'
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[2] == "-" and row[4] == "-", row


def test_a_search_that_finds_nothing_feasible_says_why_and_pick_says_it_too(tmp_path, capsys):
    assert cli("search", "digits_table", "--out", tmp_path, "--name", "t", "--quiet",
               "--set", "constraints.max_params=100") == 0
    out, err = capsys.readouterr()
    assert "on the front: 0" in out and "next:" not in out
    assert "warning: run" in err and "no model met max_params=100; relax the constraints" in err
    for cmd in ("pick", "plot", "report"):
        assert cli(cmd, tmp_path / "t") == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "no model met max_params=100" in lines[0], lines
