"""The tabular benchmark suite (benchmarks/tabular_search.py, benchmarks/suite/): scores, budgets, baselines."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from hybridnas.config import SPACES_DIR, load_config
from hybridnas.core.objectives import maximized, objective_value
from hybridnas.space.table import load_table

sys.path.insert(0, str(ROOT / "benchmarks"))
from suite import baselines  # noqa: E402
from suite.metrics import Scorer  # noqa: E402
from suite.oracle import Oracle  # noqa: E402
from tabular_search import find_tables, table_rows  # noqa: E402


@pytest.fixture(scope="module")
def digits_table():
    cfg = load_config("digits_table")
    table = load_table(cfg)
    rows = table_rows(table)
    return cfg, table, rows, Scorer(table, rows, cfg.objectives, maximized(cfg))


def error(row):
    return objective_value(row, "error")


def test_the_exact_front_scores_zero_and_nothing_scores_worst(digits_table):
    cfg, table, rows, scorer = digits_table
    exact = [r["arch_id"] for r in scorer.exact]
    assert scorer.score(exact) == pytest.approx({"hv_gap": 0.0, "regret": 0.0, "acc_gap": 0.0}, abs=1e-9)
    worst = max(error(r) for r in rows.values())
    assert scorer.score([]) == pytest.approx({"hv_gap": 100.0, "regret": 100 * (worst - scorer.best), "acc_gap": 100.0})
    assert scorer.score(list(rows)) == pytest.approx({"hv_gap": 0.0, "regret": 0.0, "acc_gap": 0.0}, abs=1e-9)


def test_regret_and_accurate_end_see_what_the_plain_gap_barely_weighs(digits_table):
    cfg, table, rows, scorer = digits_table
    ranked = sorted(rows.values(), key=error)
    q = np.percentile([error(r) for r in rows.values()], 10)
    # every network but those in the accurate tenth of the table: no regret-free, nothing at the accurate end
    rest = [r["arch_id"] for r in ranked if error(r) > q]
    s = scorer.score(rest)
    assert s["acc_gap"] == pytest.approx(100.0)
    assert s["regret"] == pytest.approx(100 * (min(error(rows[a]) for a in rest) - error(ranked[0])))
    assert s["regret"] > 0 and s["hv_gap"] < s["acc_gap"]
    # the exact front less its most accurate member: a small gap, a regret, an accurate-end gap between
    front = sorted(scorer.exact, key=error)
    s = scorer.score([r["arch_id"] for r in front[1:]])
    assert s["regret"] == pytest.approx(100 * (error(front[1]) - error(front[0])))
    assert 0 < s["hv_gap"] < s["acc_gap"] < 100


def test_the_oracle_counts_distinct_feasible_networks_and_stops_at_the_budget(digits_table):
    cfg, table, rows, _ = digits_table
    oracle = Oracle(table, rows, cfg.objectives, maximized(cfg), 3)
    rng = np.random.default_rng(0)
    x = oracle.sample(rng)
    f = oracle.evaluate(x)
    assert oracle.evaluate(x) is f and oracle.order == [oracle.arch_id(x)]  # a repeat is free
    assert np.isclose(f[1], np.log10(rows[oracle.arch_id(x)]["params"]))  # costs on log10

    def greedy(o):
        while True:
            o.evaluate(o.sample(rng))

    order = oracle.run(greedy)
    assert len(order) == len(set(order)) == 3 and oracle.done


def test_an_infeasible_combination_is_neither_counted_nor_scored(tmp_path):
    text = (SPACES_DIR / "tables" / "digits_cells.csv").read_text().splitlines()
    header = next(i for i, line in enumerate(text) if not line.startswith("#"))
    (tmp_path / "t.csv").write_text("\n".join(text[:header + 1] + text[header + 2:]) + "\n")  # one row less
    space = tmp_path / "s.yaml"
    space.write_text(f"extends: {SPACES_DIR / 'digits_table.yaml'}\ntable: {{path: t.csv}}\n")
    cfg = load_config(str(space))
    table = load_table(cfg)
    missing = next(x for x in np.ndindex(*[g.size for g in table.spec.genes]) if table.row(np.array(x)) is None)
    oracle = Oracle(table, table_rows(table), cfg.objectives, maximized(cfg), 5)
    assert oracle.evaluate(np.array(missing)) is None and oracle.order == []


def test_unvisited_neighbours_are_one_gene_away_feasible_and_new(digits_table):
    cfg, table, rows, _ = digits_table
    oracle = Oracle(table, rows, cfg.objectives, maximized(cfg), 50)
    rng = np.random.default_rng(1)
    x = oracle.sample(rng)
    oracle.evaluate(x)
    first = baselines.unvisited_neighbours(oracle, x)
    assert len(first) == sum(g.size - 1 for g in table.spec.genes)  # the digits table is complete
    oracle.evaluate(first[0])
    after = baselines.unvisited_neighbours(oracle, x)
    assert len(after) == len(first) - 1
    for y in after:
        assert np.sum(y != x) == 1 and oracle.arch_id(y) not in oracle.seen and table.row(y) is not None


@pytest.mark.parametrize("method", ["random_search", "local_search", "mixed_variable_ga"])
def test_each_baseline_meets_its_budget_in_distinct_networks(digits_table, method):
    cfg, table, rows, _ = digits_table
    oracle = Oracle(table, rows, cfg.objectives, maximized(cfg), 60)
    order = oracle.run(getattr(baselines, method), 0, 10)
    assert len(order) == len(set(order)) == 60 and set(order) <= set(rows)
    again = Oracle(table, rows, cfg.objectives, maximized(cfg), 60).run(getattr(baselines, method), 0, 10)
    assert again == order  # seeded


def test_local_search_walks_from_the_front(digits_table):
    cfg, table, rows, _ = digits_table
    oracle = Oracle(table, rows, cfg.objectives, maximized(cfg), 40)
    order = oracle.run(baselines.local_search, 3, 10)
    codes = {table.point(np.array(k)).arch_id: np.array(k) for k in table.rows}
    # after the 10 random starts every network differs from an earlier one in one gene
    for i, a in enumerate(order[10:], start=10):
        assert min(np.sum(codes[a] != codes[b]) for b in order[:i]) == 1


def test_optuna_searches_meet_their_budget(digits_table):
    pytest.importorskip("optuna")
    from suite import optuna_methods

    cfg, table, rows, _ = digits_table
    for method in (optuna_methods.tpe, optuna_methods.nsga2):
        order = Oracle(table, rows, cfg.objectives, maximized(cfg), 30).run(method, 0, 10)
        assert len(order) == len(set(order)) == 30


def test_the_suite_finds_every_tabular_space_and_only_those(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text(f"extends: {SPACES_DIR / 'digits_table.yaml'}\nname: x\n")
    (tmp_path / "notes.yaml").write_text("just: notes\n")
    assert find_tables(tmp_path) == [str(tmp_path / "a" / "x.yaml")]


@pytest.mark.parametrize("args, problem", [
    (["--methods", "random,nope"], "unknown method 'nope'"),
    (["--evaluations", "50,x"], "--evaluations"),
    (["--suite", "/nonexistent/folder"], "is not a folder"),
    (["--space", "tests/spaces/tiny.yaml"], "is not a tabular space"),
])
def test_bad_arguments_say_what_to_fix_in_one_line(args, problem):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tabular_search.py"), *args],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and problem in done.stderr and "Traceback" not in done.stderr


def _run_file(path, seeds, method, values, role="tuning"):
    scores = {"100": {"hv_gap": list(values), "regret": [0.0] * len(values), "acc_gap": [1.0] * len(values)}}
    path.write_text(json.dumps({"seeds": list(seeds), "budgets": [100], "methods": [method], "pop": 10, "tables": {
        "t": {"role": role, "networks": 9, "seeds": len(seeds), "scores": {method: scores},
              "short": {method: {"100": 0}}, "seconds": {method: 1.0}}}}))
    return str(path)


def test_the_report_merges_runs_split_by_method_and_seed_and_refuses_a_seed_twice(tmp_path):
    files = [_run_file(tmp_path / "a.json", [0, 1], "surrogate", [1.0, 2.0]),
             _run_file(tmp_path / "b.json", [2], "surrogate", [3.0]),
             _run_file(tmp_path / "c.json", [0, 1, 2], "random", [7.0, 8.0, 9.0])]
    script = [sys.executable, str(ROOT / "benchmarks" / "tabular_search.py"), "--report"]
    done = subprocess.run([*script, *files, "--compact"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "t (tuning, 9 networks, 3 seeds)" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("| surrogate |"))
    assert "2.00 ± 0.82 (3.00)" in row  # the three seeds of two files
    assert "| random |" in done.stdout
    again = _run_file(tmp_path / "d.json", [1], "surrogate", [5.0])
    done = subprocess.run([*script, *files, again], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "both have seed 1 of surrogate on t" in done.stderr
    assert "Traceback" not in done.stderr
    other = _run_file(tmp_path / "e.json", [5], "surrogate", [5.0], role="held-out")
    done = subprocess.run([*script, *files, other], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "as a held-out table" in done.stderr


def test_the_summary_marks_only_a_method_better_by_what_the_seeds_can_tell(tmp_path):
    seeds = list(range(8))
    files = [_run_file(tmp_path / "s.json", seeds, "surrogate", [5.0, 6.0, 5.5, 6.5, 5.2, 6.1, 5.8, 6.3]),
             # lower in every seed: significantly better
             _run_file(tmp_path / "r.json", seeds, "random", [1.0, 1.5, 1.2, 0.8, 1.1, 1.4, 0.9, 1.3]),
             # a lower mean, but the seeds overlap: not
             _run_file(tmp_path / "l.json", seeds, "local", [5.1, 6.2, 5.0, 6.4, 5.3, 6.0, 5.9, 5.4])]
    script = [sys.executable, str(ROOT / "benchmarks" / "tabular_search.py"), "--report", *files]
    done = subprocess.run(script, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = next(line for line in lines if line.startswith("| t (tuning) | 100 |"))  # the HV-gap summary
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:] == ["5.80", "1.15*+", "5.66"]  # surrogate, random, local: only random is marked
    said = next(line for line in lines if line.startswith("rows where no method is significantly better"))
    assert said.startswith("rows where no method is significantly better than surrogate: 0 of 1")
    assert "t at 100 (random p=" in said and "local" not in said


def test_search_picks_accounts_for_every_network_the_search_chose():
    script = [sys.executable, str(ROOT / "benchmarks" / "search_picks.py")]
    done = subprocess.run([*script, "--space", "digits_table", "--seeds", "1", "--evaluations", "24"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [line.strip("|").split("|") for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    by = {r[0].strip(): int(r[1]) for r in rows}
    assert by.pop("(the whole table)") == 288
    assert by["design"] == 12 and sum(by.values()) == 24  # the initial design, then the model's picks
    assert set(by) <= {"design", "local", "best", "ehvi", "random", "explore"}
    done = subprocess.run([*script, "--space", "digits"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "digits is not a tabular space" in done.stderr
    assert "Traceback" not in done.stderr
