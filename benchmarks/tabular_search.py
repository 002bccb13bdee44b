"""Search efficiency on tables: every search method, side by side, on a suite of tabular NAS benchmarks.

For each tabular space and seed, each method runs until it has evaluated ``max(--evaluations)``
distinct networks (asking for one again is free; a gene combination the table lacks is
infeasible and not counted); then the first N distinct ones are scored for each N
(``suite/metrics.py``):

- the hypervolume gap of the front they form to the table's exact front, ``1 - HV(found) /
  HV(exact)``, objectives normalised by the table's exact ranges (costs on log10), in %;
- the best-error regret: the error of the most accurate network found minus the table's best,
  in points;
- the accurate-end HV gap: the same gap with the error reference at the table's 10th-percentile
  error, so only the 10 % most accurate networks count, in %.

Methods (``--methods``): ``surrogate`` (the default ``hybridnas search``), ``pymoo`` and ``deap``
(plain NSGA-II, ``engine.surrogate.enabled=false``) - ``suite/hybridnas_methods.py``; ``random``,
``local`` (multi-objective local search: one unvisited one-gene neighbour of a random
non-dominated network at a time) and ``pymoo-mixed`` (pymoo's MixedVariableGA, mutation rate
1/n_genes) - ``suite/baselines.py``; ``optuna-tpe`` (multivariate TPE) and ``optuna-nsga2`` -
``suite/optuna_methods.py`` (``pip install 'hybridnas[bench]'``).

Tables: ``--space`` (repeatable), or ``--suite DIR``: the shipped digits table and every tabular
space file found under DIR (the converters ``benchmarks/convert_*.py`` write one beside each CSV).
The tables in ``TUNING`` are the ones the defaults were chosen on; every other table is held out,
and the output says which is which.

    python benchmarks/tabular_search.py --suite /work/data --seeds 10
    python benchmarks/tabular_search.py --space /work/data/nas-bench-macro/nas_bench_macro.yaml \\
        --methods surrogate,random --seeds 3 --evaluations 50,100

Prints, per table, method and budget, mean +- standard deviation over seeds and the worst seed
of each score, whether each method reached every budget (a small table can run out of networks,
an Optuna study can keep repeating itself), and the seconds per search; ``--json`` also writes
every seed's scores. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

from hybridnas.config import load_config
from hybridnas.core.objectives import maximized
from hybridnas.errors import UserError
from hybridnas.space.table import load_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import baselines, optuna_methods  # noqa: E402
from suite.hybridnas_methods import search_order  # noqa: E402
from suite.metrics import ALPHA, METRICS, Scorer, cell, significantly_better  # noqa: E402
from suite.oracle import Oracle  # noqa: E402

# hybridnas' searches: name -> (engine, surrogate on)
HYBRIDNAS = {"surrogate": ("pymoo", True), "pymoo": ("pymoo", False), "deap": ("deap", False)}
# every other method: a function (oracle, seed, pop) that asks the table for networks
OTHERS = {
    "random": baselines.random_search,
    "local": baselines.local_search,
    "pymoo-mixed": baselines.mixed_variable_ga,
    "optuna-tpe": optuna_methods.tpe,
    "optuna-nsga2": optuna_methods.nsga2,
}
METHODS = ("surrogate", "pymoo", "deap", "random", "local", "pymoo-mixed", "optuna-tpe", "optuna-nsga2")
# the tables the defaults are chosen on (by the space's name); every other table is held out.
# nas-bench-graph-citeseer joined at e94804d, after the defaults of that commit were set: a graph
# space whose accurate end the predictor ranks poorly (benchmarks/search_picks.py), to tune on
# instead of the held-out Cora and ogbn-arxiv, which share that trouble
TUNING = ("digits-table", "nas-bench-macro", "transnas-macro-class-scene", "transnas-macro-jigsaw",
          "nas-bench-graph-citeseer")


def find_tables(folder: Path) -> List[str]:
    """Every tabular space file under ``folder`` (other YAML files are passed over)."""
    found = []
    for path in sorted(folder.rglob("*.yaml")):
        try:
            cfg = load_config(str(path))
        except (UserError, OSError, ValueError):
            continue
        if cfg.tabular:
            found.append(str(path))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", action="append", default=[], help="tabular space (repeatable)")
    ap.add_argument("--suite", type=Path, help="also the digits table and every tabular space under this folder")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed + seeds - 1")
    ap.add_argument("--evaluations", default="50,100,300", help="budgets N, comma-separated")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    ap.add_argument("--pop", type=int, default=10,
                    help="population of every population-based method (and the surrogate's batch); 0 keeps each "
                         "space's engine.pop_size for hybridnas' searches (10 for the others)")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra --set for hybridnas' searches")
    ap.add_argument("--json", type=Path, help="also write every seed's scores to this file")
    ap.add_argument("--report", type=Path, nargs="+",
                    help="run nothing: print the scores of files written by --json (several runs side by side)")
    ap.add_argument("--compact", action="store_true", help="with --report: one table per table, a row per method")
    args = ap.parse_args()
    if args.report:
        return report(args.report, ap, args.compact)
    try:
        budgets = sorted({int(v) for v in args.evaluations.split(",") if v.strip()})
    except ValueError:
        ap.error(f"--evaluations '{args.evaluations}' must be whole numbers separated by commas, e.g. 50,100,300")
    if not budgets or min(budgets) < 1:
        ap.error("--evaluations needs at least one budget of 1 or more")
    if args.seeds < 1:
        ap.error("--seeds must be 1 or more")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            ap.error(f"unknown method '{m}'; choose from {', '.join(METHODS)}")
    spaces = list(args.space)
    if args.suite is not None:
        if not args.suite.is_dir():
            ap.error(f"--suite {args.suite} is not a folder; give the folder the converters wrote into")
        found = find_tables(args.suite)
        if not found:
            ap.error(f"no tabular space file under {args.suite}; run the benchmarks/convert_*.py scripts first")
        spaces = ["digits_table", *found, *spaces]
    spaces = spaces or ["digits_table"]
    try:
        tables = [(s, load_config(s)) for s in spaces]
        for _, cfg in tables:
            if not cfg.tabular:
                ap.error(f"{cfg.name} is not a tabular space; give spaces with a table (see docs/network-search.md)")
            load_table(cfg)  # every table read and checked before anything runs (memoised)
    except UserError as exc:
        ap.error(str(exc))
    tables.sort(key=lambda t: t[1].name not in TUNING)  # tuning tables first, in the order given
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}); population {args.pop or 'per space'}; budgets {budgets}; "
          f"methods {', '.join(methods)}")
    print("tables: " + ", ".join(f"{cfg.name} ({'tuning' if cfg.name in TUNING else 'held out'})" for _, cfg in tables))
    results = {}

    def save(name, partial):  # after every seed, so that a run cut short keeps what it measured
        results[name] = partial
        if args.json:
            tmp = args.json.with_name(args.json.name + ".tmp")
            tmp.write_text(json.dumps({"seeds": seeds, "budgets": budgets, "methods": methods, "pop": args.pop,
                                       "tables": results}, indent=1))
            os.replace(tmp, args.json)

    for space, cfg in tables:
        run_table(space, cfg, methods, budgets, seeds, args, save)
    summary(results, methods)


def table_rows(table) -> Dict[str, dict]:
    """The table's rows as evaluation records, by arch id."""
    rows = {}
    for k, r in table.rows.items():
        aid = table.point(np.array(k)).arch_id
        rows[aid] = {**r, "status": "ok", "arch_id": aid}
    return rows


def run_method(m, space, table, rows, cfg, seed, top, tmp, args) -> List[str]:
    """The arch ids method ``m`` met, in order."""
    if m in HYBRIDNAS:
        engine, surrogate = HYBRIDNAS[m]
        return search_order(space, seed, top, tmp, engine, surrogate, args.pop, args.extra)
    oracle = Oracle(table, rows, cfg.objectives, maximized(cfg), top)
    return oracle.run(OTHERS[m], seed, args.pop or 10)


def run_table(space, cfg, methods, budgets, seeds, args, save) -> None:
    table = load_table(cfg)
    rows = table_rows(table)
    scorer = Scorer(table, rows, cfg.objectives, maximized(cfg))
    skipped = [n for n in budgets if n >= len(rows)]  # a budget of the whole table measures nothing
    budgets = [n for n in budgets if n < len(rows)]
    tuning = cfg.name in TUNING
    role = "TUNING table (defaults chosen on it)" if tuning else "HELD-OUT table (not used to choose defaults)"
    print()
    print(f"## {cfg.name}: {role}")
    print()
    genes = ", ".join(f"{g.name} ({g.size})" for g in table.spec.genes)
    maxed = f" (maximised: {', '.join(maximized(cfg))})" if maximized(cfg) else ""
    print(f"{table.path.name}: {len(rows)} networks, genes {genes}; objectives: {', '.join(cfg.objectives)}{maxed}")
    print(scorer.describe())
    if skipped:
        print(f"budgets {', '.join(map(str, skipped))} left out: the table has only {len(rows)} networks")
    if not budgets:
        return
    top = max(budgets)
    scores = {m: {n: {k: [] for k in METRICS} for n in budgets} for m in methods}
    short = {m: {n: 0 for n in budgets} for m in methods}
    wall = {m: 0.0 for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for m in methods:
                t0 = time.perf_counter()
                order = run_method(m, space, table, rows, cfg, seed, top, Path(tmp), args)
                dt = time.perf_counter() - t0
                wall[m] += dt
                print(f"  {cfg.name} seed {seed} {m}: {len(order)} networks, {dt:.1f} s", file=sys.stderr, flush=True)
                for n in budgets:
                    short[m][n] += len(order) < n
                    for k, v in scorer.score(order[:n]).items():
                        scores[m][n][k].append(v)
            done = seeds.index(seed) + 1
            save(cfg.name, {"role": "tuning" if tuning else "held-out", "networks": len(rows), "seeds": done,
                            "scores": scores, "short": short, "seconds": {m: wall[m] / done for m in methods}})
    print_scores(scores, short, methods, len(seeds))
    print()
    print("seconds per search (this machine): " + ", ".join(f"{m} {wall[m] / len(seeds):.1f}" for m in methods))
    sys.stdout.flush()


def print_scores(scores: dict, short: dict, methods: List[str], n_seeds: int) -> None:
    """One table per score: a row per budget, a cell per method (mean +- std over seeds, worst seed)."""
    for k, title in METRICS.items():
        print()
        print(f"{title}: mean +- std over {n_seeds} seeds (worst seed); lower is better")
        print()
        print("| N | " + " | ".join(methods) + " |")
        print("|---:|" + "---:|" * len(methods))
        for n in sorted(scores[methods[0]], key=int):
            cells = []
            for m in methods:
                c = cell(scores[m][n][k])
                if short[m][n]:
                    c += f" [{short[m][n]} short]"
                cells.append(c)
            print(f"| {n} | " + " | ".join(cells) + " |")


def summary(results: dict, methods: List[str]) -> None:
    """Each table's mean scores at its two largest budgets, one line per table and budget, per score;
    then how many rows each method has the lowest mean of, and - for the first method (the default
    search) - the rows where another method is better than it by what the seeds can tell
    (:func:`suite.metrics.significantly_better`)."""
    first = methods[0]
    for k, title in METRICS.items():
        print()
        print(f"summary - {title}: mean over seeds; * marks the lowest of the row, "
              f"+ a method better than {first} (one-sided Mann-Whitney U, p < {ALPHA}, uncorrected)")
        print()
        print("| table | N | " + " | ".join(methods) + " |")
        print("|---|---:|" + "---:|" * len(methods))
        wins = {m: 0 for m in methods}
        beaten = []  # (row, {method: p}) where a method is significantly better than the first
        rows = 0
        for name, res in results.items():
            if not res:
                continue
            budgets = sorted(res["scores"][first], key=int)[-2:]
            for n in budgets:
                rows += 1
                means = [float(np.mean(res["scores"][m][n][k])) for m in methods]
                better = significantly_better(res["scores"][first][n][k],
                                              {m: res["scores"][m][n][k] for m in methods[1:]})
                best = min(means)
                cells = [f"{v:.2f}" + ("*" if v == best else "") + ("+" if m in better else "")
                         for m, v in zip(methods, means)]
                print(f"| {name} ({res['role']}) | {n} | " + " | ".join(cells) + " |")
                for m, v in zip(methods, means):
                    wins[m] += v == best
                if better:
                    beaten.append((f"{name} at {n}", better))
        print()
        print("rows where each method has the lowest mean (ties count for each): "
              + ", ".join(f"{m} {w}" for m, w in wins.items()))
        if len(methods) > 1:
            print(f"rows where no method is significantly better than {first}: {rows - len(beaten)} of {rows}"
                  + ("; the others: " if beaten else "")
                  + "; ".join(f"{row} ({', '.join(f'{m} p={p:.3f}' for m, p in better.items())})"
                              for row, better in beaten))


def compact(name: str, res: dict, methods: List[str]) -> None:
    """One table for a table: a row per method, a column per score and budget (mean +- std, worst seed)."""
    budgets = sorted(res["scores"][methods[0]], key=int)
    short = {"hv_gap": "HV gap", "regret": "regret", "acc_gap": "accurate-end gap"}
    print()
    print(f"{name} ({res['role']}, {res['networks']:,} networks, {res['seeds']} seeds)")
    print()
    print("| method | " + " | ".join(f"{short[k]} {n}" for k in METRICS for n in budgets) + " |")
    print("|---|" + "---:|" * (len(METRICS) * len(budgets)))
    columns = [(k, n) for k in METRICS for n in budgets]
    means = {(m, c): float(np.mean(res["scores"][m][c[1]][c[0]])) for m in methods for c in columns}
    for m in methods:
        cells = []
        for k, n in columns:
            v = np.asarray(res["scores"][m][n][k], dtype=float)
            text = f"{v.mean():.2f} ± {v.std():.2f} ({v.max():.2f})" + ("*" if res["short"][m][n] else "")
            best = means[m, (k, n)] == min(means[o, (k, n)] for o in methods)
            cells.append(f"**{text}**" if best else text)
        print(f"| {m} | " + " | ".join(cells) + " |")
    if any(res["short"][m][n] for m in methods for n in budgets):
        print("\n*: some seeds fell short of the budget and are scored on what they had")


def report(files: List[Path], ap, compact_form: bool = False) -> None:
    """Report runs written by ``--json``: files that split one run by table, by method or by seed
    (``--first-seed``) are merged - per table and method, the seeds' scores are put together; a
    seed twice for the same table and method, or a table both tuning and held out, is an error."""
    results: Dict[str, dict] = {}
    taken: Dict[tuple, Path] = {}  # (table, method, seed) -> the file it came from
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            ap.error(f"cannot read {f} ({exc}); give files written by --json")
        for name, res in data["tables"].items():
            into = results.setdefault(name, {"role": res["role"], "networks": res["networks"], "scores": {},
                                              "short": {}, "seconds": {}, "runs": {}})
            if into["role"] != res["role"]:
                ap.error(f"{f} has {name} as a {res['role']} table, an earlier file as {into['role']}; "
                         "report runs made with the same TUNING list")
            seeds = data["seeds"][: res["seeds"]]
            for m in res["scores"]:
                for seed in seeds:
                    if (name, m, seed) in taken:
                        ap.error(f"{f} and {taken[name, m, seed]} both have seed {seed} of {m} on {name}; "
                                 "give each seed once")
                    taken[name, m, seed] = f
                scores = into["scores"].setdefault(m, {})
                for n, by in res["scores"][m].items():
                    for k, v in by.items():
                        scores.setdefault(n, {}).setdefault(k, []).extend(v)
                short = into["short"].setdefault(m, {})
                for n, v in res["short"][m].items():
                    short[n] = short.get(n, 0) + v
                runs = into["runs"].get(m, 0)
                into["seconds"][m] = (into["seconds"].get(m, 0.0) * runs + res["seconds"][m] * len(seeds)) / (
                    runs + len(seeds))
                into["runs"][m] = runs + len(seeds)
    present = {m for res in results.values() for m in res["scores"]}
    methods = [m for m in METHODS if m in present]
    for name, res in results.items():
        missing = [m for m in methods if m not in res["scores"]]
        if missing:
            ap.error(f"{name} has no run of {', '.join(missing)}; give every table's runs of every method")
        seeds = {res["runs"][m] for m in methods}
        res["seeds"] = min(seeds)
        if len(seeds) > 1:
            print(f"note: on {name} the methods ran different numbers of seeds: "
                  + ", ".join(f"{m} {res['runs'][m]}" for m in methods), file=sys.stderr)
    for name, res in results.items():
        if compact_form:
            compact(name, res, methods)
            continue
        print()
        print(f"## {name}: {res['role']}, {res['networks']} networks")
        print_scores(res["scores"], res["short"], methods, res["seeds"])
        print()
        print("seconds per search (this machine): " + ", ".join(f"{m} {res['seconds'][m]:.1f}" for m in methods))
    summary(results, methods)


if __name__ == "__main__":
    main()
