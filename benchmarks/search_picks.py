"""Where the default search's picks land on a table: how each way of choosing did at the accurate end.

Runs the default search (the surrogate loop, as ``tabular_search.py``'s ``surrogate`` method) on a
tabular space for each seed and reads its run folder. For each way a network was chosen
(``selected_by`` in ``evaluations.jsonl``: design, local, best, ehvi, random, explore) it prints how many
distinct networks it chose and the share within 0.5, 1 and 2 points of the table's best error (in
the objective's own units for a table whose accuracy objective is not ``error``), beside the share
of the whole table - so a share no higher than the table's says those picks did no better than
random draws there. Then the cross-validated Kendall tau among the archive's better half of the
predictor each iteration chose (``surrogate/iter_NNN.json``): how well the model could rank the top.

    python benchmarks/search_picks.py --space /work/data/nas-bench-graph/arxiv/nas_bench_graph_arxiv.yaml \\
        --seeds 4 --evaluations 100

It reads the table only to score what the search evaluated; the search itself never sees it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from hybridnas.config import load_config
from hybridnas.core.objectives import maximized, objective_value
from hybridnas.errors import UserError
from hybridnas.space.table import load_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite.hybridnas_methods import search_order  # noqa: E402
from tabular_search import table_rows  # noqa: E402

WITHIN = (0.5, 1.0, 2.0)  # points of the table's best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", required=True, help="a tabular space")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--evaluations", type=int, default=100, help="distinct networks per search")
    ap.add_argument("--pop", type=int, default=10, help="as tabular_search.py's --pop")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="extra --set for the search")
    args = ap.parse_args()
    if args.seeds < 1 or args.evaluations < 1:
        ap.error("--seeds and --evaluations must be 1 or more")
    try:
        cfg = load_config(args.space)
        if not cfg.tabular:
            ap.error(f"{cfg.name} is not a tabular space; give a space with a table")
        table = load_table(cfg)
    except UserError as exc:
        ap.error(str(exc))
    rows = table_rows(table)
    acc = "error" if "error" in cfg.objectives else cfg.objectives[0]
    scale = 100.0 if acc == "error" else 1.0
    values = scale * np.array([objective_value(r, acc, maximized(cfg)) for r in rows.values()])
    best = float(values.min())

    picks = defaultdict(list)  # selected_by -> the accuracy objective of each pick, scaled
    regrets, taus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            out = Path(tmp) / str(seed)
            order = search_order(args.space, seed, args.evaluations, out, "pymoo", True, args.pop, args.extra)
            run = next(out.glob("*/evaluations.jsonl")).parent
            seen = set()
            for line in (run / "evaluations.jsonl").read_text().splitlines():
                r = json.loads(line)
                if r["arch_id"] in seen or r["arch_id"] not in rows:
                    continue
                seen.add(r["arch_id"])
                v = scale * objective_value(rows[r["arch_id"]], acc, maximized(cfg))
                picks[r.get("selected_by") or "design"].append(v)
            regrets.append(min(scale * objective_value(rows[a], acc, maximized(cfg)) for a in order) - best)
            for f in sorted((run / "surrogate").glob("iter_*.json")):
                it = json.loads(f.read_text())
                for o, name in (it.get("predictor") or {}).items():
                    t = (it.get("cv_kendall_tau") or {}).get(o, {}).get(name)
                    if t is not None:
                        taus.append(t)

    unit = " points" if scale == 100 else ""
    print(f"{cfg.name}: {len(rows)} networks, best {acc} {best:.2f}{unit}; {args.seeds} seeds, "
          f"{args.evaluations} networks each; best-{acc} regret {np.mean(regrets):.2f} mean, "
          f"{np.max(regrets):.2f} worst")
    print()
    print("| chosen by | networks | " + " | ".join(f"within {w:g}" for w in WITHIN) + " |")
    print("|---|---:|" + "---:|" * len(WITHIN))
    print("| (the whole table) | " + f"{len(values)} | "
          + " | ".join(f"{100 * np.mean(values <= best + w):.1f} %" for w in WITHIN) + " |")
    for how in sorted(picks):
        v = np.array(picks[how])
        print(f"| {how} | {len(v)} | " + " | ".join(f"{100 * np.mean(v <= best + w):.1f} %" for w in WITHIN) + " |")
    if taus:
        q = np.percentile(taus, [10, 50, 90])
        print()
        print(f"chosen predictor's cross-validated Kendall tau among the better half, over {len(taus)} fits: "
              f"10th percentile {q[0]:.2f}, median {q[1]:.2f}, 90th {q[2]:.2f}")


if __name__ == "__main__":
    main()
