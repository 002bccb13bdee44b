"""Search quality on a table: NSGA-II (pymoo and DEAP) against random search, same evaluations.

Runs ``hybridnas search`` on a tabular space (default: the shipped digits table) once per seed
and engine, and random search (uniform samples of the genes, repeats free) with the same seeds;
after N distinct networks evaluated (table lookups) for each N in ``--evaluations``, it measures
the hypervolume of the front found, relative to the hypervolume of the table's exact front
(both normalised by the table's exact objective ranges, the run's ``hv_reference.json``), and
how many exact-front members were found. Prints mean +- standard deviation over the seeds.

    python benchmarks/tabular_search.py [--space digits_table] [--seeds 10] [--evaluations 20,40,60,80]

A run stops after ``--generations``; one that has not reached N evaluations by then is scored
on what it had (the table says how many runs fell short).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hybridnas.config import load_config
from hybridnas.device import derive_seed
from hybridnas.network.search import front_hypervolume, maximized, pareto_front, table_reference
from hybridnas.pipeline import open_run, run_search
from hybridnas.progress import Progress
from hybridnas.space.table import load_table


def nsga2_order(space, engine, seed, pop, generations, out):
    """Arch ids in the order a real search evaluated them."""
    over = [f"seed={seed}", f"engine.name={engine}", "engine.algorithm=nsga2", f"engine.pop_size={pop}",
            f"engine.generations={generations}"]
    cfg, store = open_run(space, over, name=f"{engine}-{seed}", out=out)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="digits_table")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--evaluations", default="20,40,60,80")
    ap.add_argument("--pop", type=int, default=12)
    ap.add_argument("--generations", type=int, default=300)
    args = ap.parse_args()
    budgets = [int(v) for v in args.evaluations.split(",")]

    cfg = load_config(args.space)
    table = load_table(cfg)
    objectives, maximize = cfg.objectives, maximized(cfg)
    ref = table_reference(table, objectives, maximize)
    rows = {table.point(np.array(k)).arch_id: {**r, "status": "ok"} for k, r in table.rows.items()}
    for aid, r in rows.items():
        r["arch_id"] = aid
    exact = pareto_front(list(rows.values()), objectives, maximize)
    exact_ids = {r["arch_id"] for r in exact}
    hv_exact = front_hypervolume(exact, ref)

    methods = {"NSGA-II (pymoo)": "pymoo", "NSGA-II (DEAP)": "deap", "random search": None}
    ratio = {m: {n: [] for n in budgets} for m in methods}
    found = {m: {n: [] for n in budgets} for m in methods}
    short = {m: {n: 0 for n in budgets} for m in methods}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for m, engine in methods.items():
                if engine is None:
                    order = random_order(table, seed, max(budgets))
                else:
                    order = nsga2_order(args.space, engine, seed, args.pop, args.generations, Path(tmp))
                for n in budgets:
                    seen = order[:n]
                    short[m][n] += len(seen) < n
                    front = pareto_front([rows[a] for a in seen], objectives, maximize)
                    ratio[m][n].append(front_hypervolume(front, ref) / hv_exact)
                    found[m][n].append(len({r["arch_id"] for r in front} & exact_ids))
    wall = time.perf_counter() - t0

    print(f"table: {table.path.name}, {len(rows)} networks; objectives: {', '.join(objectives)}"
          + (f" (maximised: {', '.join(maximize)})" if maximize else ""))
    print(f"exact front: {len(exact)} networks, hypervolume {hv_exact:.4f} (normalised by the table's exact ranges)")
    print(f"{args.seeds} seeds; population {args.pop}; {wall:.0f} s")
    print()
    print("hypervolume of the front found / hypervolume of the exact front (mean +- std over seeds), "
          "and exact-front members found (mean)")
    print()
    head = "| evaluations | " + " | ".join(methods) + " |"
    print(head)
    print("|" + "|".join(["-------------:"] + ["-" * (len(m) + 2) for m in methods]) + "|")
    for n in budgets:
        cells = []
        for m in methods:
            v = np.array(ratio[m][n])
            cell = f"{v.mean():.3f} +- {v.std():.3f} ({np.mean(found[m][n]):.1f})"
            if short[m][n]:
                cell += f" [{short[m][n]} short]"
            cells.append(cell)
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
