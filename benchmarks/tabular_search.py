"""Search efficiency on tables: every search method, side by side, counted in distinct evaluations.

For each tabular space (``--space``, repeatable; default: the shipped digits table) and seed, it
runs each method until it has evaluated ``max(--evaluations)`` distinct networks, then scores the
first N distinct ones for each N: the hypervolume gap of the front they form to the table's exact
front, ``1 - HV(found) / HV(exact)``, both normalised by the table's exact objective ranges (costs
on log10: the run's ``hv_reference.json``), and beside it the best-error regret (points) and the
accurate-end gap (error reference at the table's 10th-percentile error; see ``suite/metrics.py``).
Tables named in ``TUNING`` are the ones the defaults were chosen on; the rest are held out. Methods:

- ``random``: uniform samples of the genes, repeats skipped;
- ``pymoo``, ``deap``: ``hybridnas search`` with NSGA-II (``engine.surrogate.enabled=false``);
- ``surrogate``: ``hybridnas search`` with the surrogate-assisted loop (the default);
- ``optuna-tpe``, ``optuna-nsga2``: Optuna's multi-objective ``TPESampler`` (default settings) and
  ``NSGAIISampler`` (default settings but the population, ``--pop`` as hybridnas' engines: its
  default of 50 is a random search at these budgets) (``pip install 'hybridnas[bench]'``);
  ordinal genes are integer parameters, the others categorical; a repeated network is answered
  from a cache, free, as hybridnas does, up to 5 trials per distinct network wanted; costs are
  given as log10, the scale of the measure.

    python benchmarks/tabular_search.py --space digits_table \\
        --space /work/data/nas-bench-macro/nas_bench_macro.yaml --seeds 10 --evaluations 50,100,300

Prints mean +- standard deviation and the worst seed of each score over seeds, per table, method
and budget, and whether each method reached every budget (a small table can run out of networks).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np

from hybridnas.config import load_config
from hybridnas.device import derive_seed
from hybridnas.network.search import LOG_OBJECTIVES, maximized, objective_value
from hybridnas.pipeline import open_run, run_search
from hybridnas.progress import Progress
from hybridnas.space.table import load_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite.metrics import METRICS, Scorer, cell  # noqa: E402

METHODS = ("random", "pymoo", "deap", "surrogate", "optuna-tpe", "optuna-nsga2")
# the tables the defaults were chosen on (by the space's name); every other table is held out
TUNING = ("digits-table", "nas-bench-macro")
OPTUNA_TRIALS = 5  # an Optuna study stops after this many trials per distinct network wanted (repeats are free)


def search_order(space, seed, n, out, engine="pymoo", surrogate=False, pop=10, extra=()):
    """Arch ids in the order a real ``hybridnas search`` evaluated them."""
    over = [f"seed={seed}", f"engine.name={engine}", "engine.algorithm=nsga2", f"engine.pop_size={pop}",
            "engine.generations=null", f"engine.evaluations={n}", f"engine.surrogate.enabled={str(surrogate).lower()}",
            *extra]
    cfg, store = open_run(space, over, name=f"{engine}-{int(surrogate)}-{seed}", out=out)
    run_search(cfg, store, Progress(quiet=True), export=False)
    return [r["arch_id"] for r in store.records("evaluations.jsonl")]


def random_order(table, seed, n):
    """Distinct arch ids in the order uniform sampling of the genes first meets them."""
    rng = np.random.default_rng(derive_seed(seed, "random-search"))
    seen, order = set(), []
    while len(order) < min(n, len(table.rows)):
        x = table.spec.sample(rng, 1)[0]
        if table.row(x) is None:
            continue
        aid = table.point(x).arch_id
        if aid not in seen:
            seen.add(aid)
            order.append(aid)
    return order


def optuna_order(table, rows, objectives, maximize, seed, n, sampler, pop):
    """Distinct arch ids in the order an Optuna study evaluates them (repeats answered free)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {"optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed),
                "optuna-nsga2": lambda: optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)}
    study = optuna.create_study(directions=["minimize"] * len(objectives), sampler=samplers[sampler]())
    order: List[str] = []
    seen = set()
    for _ in range(OPTUNA_TRIALS * n):
        if len(order) >= min(n, len(rows)):
            break
        trial = study.ask()
        x = []
        for g in table.spec.genes:
            if g.vtype == "ordinal":
                x.append(trial.suggest_int(g.name, g.low, g.high))
            else:
                x.append(trial.suggest_categorical(g.name, list(range(g.low, g.high + 1))))
        x = np.array(x)
        aid = table.point(x).arch_id
        if aid not in rows:  # no row: the worst of everything
            study.tell(trial, [1e9] * len(objectives))
            continue
        r = rows[aid]
        values = [objective_value(r, o, maximize) for o in objectives]
        values = [math.log10(v) if o in LOG_OBJECTIVES and v > 0 else v for o, v in zip(objectives, values)]
        study.tell(trial, values)
        if aid not in seen:
            seen.add(aid)
            order.append(aid)
    return order


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", action="append", help="tabular space (repeatable); default digits_table")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evaluations", default="50,100,300")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    ap.add_argument("--pop", type=int, default=10, help="population (and surrogate batch) of hybridnas' engines")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra --set for hybridnas' searches")
    args = ap.parse_args()
    budgets = [int(v) for v in args.evaluations.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method '{m}'; choose from {', '.join(METHODS)}")
    spaces = args.space or ["digits_table"]
    print(f"{args.seeds} seeds; population {args.pop}; budgets {budgets}")
    for space in spaces:
        run_table(space, methods, budgets, args)


def run_table(space, methods, budgets, args):
    cfg = load_config(space)
    table = load_table(cfg)
    objectives, maximize = cfg.objectives, maximized(cfg)
    rows: Dict[str, dict] = {}
    for k, r in table.rows.items():
        aid = table.point(np.array(k)).arch_id
        rows[aid] = {**r, "status": "ok", "arch_id": aid}
    scorer = Scorer(table, rows, objectives, maximize)
    skipped = [n for n in budgets if n >= len(rows)]  # a budget of the whole table measures nothing
    budgets = [n for n in budgets if n < len(rows)]
    if not budgets:
        print(f"\ntable {table.path.name} has {len(rows)} networks: every budget covers it; nothing to measure")
        return
    top = max(budgets)
    scores = {m: {n: {k: [] for k in METRICS} for n in budgets} for m in methods}
    short = {m: {n: 0 for n in budgets} for m in methods}
    wall = {m: 0.0 for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for m in methods:
                t0 = time.perf_counter()
                if m == "random":
                    order = random_order(table, seed, top)
                elif m in ("pymoo", "deap"):
                    order = search_order(space, seed, top, Path(tmp), engine=m, pop=args.pop, extra=args.extra)
                elif m == "surrogate":
                    order = search_order(space, seed, top, Path(tmp), surrogate=True, pop=args.pop, extra=args.extra)
                else:
                    order = optuna_order(table, rows, objectives, maximize, seed, top, m, args.pop)
                wall[m] += time.perf_counter() - t0
                for n in budgets:
                    seen = order[:n]
                    short[m][n] += len(seen) < min(n, len(rows))
                    for k, v in scorer.score(seen).items():
                        scores[m][n][k].append(v)

    role = "TUNING table (defaults chosen on it)" if cfg.name in TUNING else "HELD-OUT table (not used to choose defaults)"
    print()
    print(f"table: {cfg.name} ({table.path.name}), {len(rows)} networks; {role}; objectives: {', '.join(objectives)}"
          + (f" (maximised: {', '.join(maximize)})" if maximize else ""))
    print(scorer.describe())
    if skipped:
        print(f"budgets {', '.join(map(str, skipped))} left out: the table has only {len(rows)} networks")
    for k, title in METRICS.items():
        print()
        print(f"{title}: mean +- std over {args.seeds} seeds (worst seed); lower is better")
        print()
        print("| distinct evaluations | " + " | ".join(methods) + " |")
        print("|---:|" + "---:|" * len(methods))
        for n in budgets:
            cells = []
            for m in methods:
                c = cell(scores[m][n][k])
                if short[m][n]:
                    c += f" [{short[m][n]} short]"
                cells.append(c)
            print(f"| {n} | " + " | ".join(cells) + " |")
    print()
    print("seconds per search (this machine, all seeds): " + ", ".join(f"{m} {wall[m] / args.seeds:.1f}" for m in methods))


if __name__ == "__main__":
    main()
