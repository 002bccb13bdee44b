"""Multi-fidelity against single fidelity: the same search, side by side, same seed and library.

Runs a space once as it is and once with ``evaluation.fidelity.budgets`` (successive halving
inside each generation), the second run reusing the first one's block library so only the
network stage differs. Prints, for each: epochs trained, network-stage time, networks trained to
the full budget, the final front's size and hypervolume (same normalisation); and, for the
multi-fidelity run, how often a network's error at the full budget is at most its error at the
short budget (the assumption behind showing the engine a stopped network's short-budget error).

    python benchmarks/multi_fidelity.py [SPACE] [--budgets 2] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from hybridnas.core.objectives import front_hypervolume
from hybridnas.pipeline import open_run, run_search
from hybridnas.progress import Progress


def run(space, overrides, out, name, library=None):
    cfg, store = open_run(space, overrides, name=name, out=out)
    if library is not None:  # same library: only the network stage differs
        store.root.mkdir(parents=True)
        shutil.copy(library / "blocks.json", store.path("blocks.json"))
    t0 = time.perf_counter()
    summary = run_search(cfg, store, Progress(quiet=True), export=False)
    wall = time.perf_counter() - t0
    recs = store.records("evaluations.jsonl")
    epochs = sum(r.get("trained_epochs", r["epochs"]) for r in recs)  # continued rungs count once
    ref = store.read_json("hv_reference.json")
    front = store.read_json("front.json")["members"]
    return {"store": store, "records": recs, "epochs": epochs, "wall": wall, "net_s": summary["network_stage_s"],
            "full": sum(r["epochs"] == cfg.evaluation.epochs for r in recs), "front": len(front),
            "hv": front_hypervolume(front, ref), "top": cfg.evaluation.epochs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("space", nargs="?", default=None)
    ap.add_argument("--budgets", default="2", help="lower budgets, e.g. 2 or 2,4")
    ap.add_argument("--promote", default="0.5")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    args = ap.parse_args()
    mf = [f"evaluation.fidelity.budgets=[{args.budgets}]", f"evaluation.fidelity.promote={args.promote}"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        single = run(args.space, args.overrides, out, "single")
        multi = run(args.space, args.overrides + mf, out, "multi", library=single["store"].root)
    print(f"space: {args.space or 'digits'} {' '.join(args.overrides)}; multi-fidelity budgets [{args.budgets}] "
          f"then {single['top']} epochs, promote {args.promote}")
    print()
    print("| | epochs trained | network stage (s) | trained to the full budget | front | hypervolume |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in (("single fidelity", single), ("multi-fidelity", multi)):
        print(f"| {name} | {r['epochs']} | {r['net_s']:.0f} | {r['full']} | {r['front']} | {r['hv']:.4f} |")
    print(f"| ratio multi/single | {multi['epochs'] / single['epochs']:.2f} | {multi['net_s'] / single['net_s']:.2f} | "
          f"| | {multi['hv'] / single['hv']:.3f} |")
    low = {}
    for r in multi["records"]:
        if r.get("rung") == 0 and r.get("status") == "ok":
            low[r["arch_id"]] = r
    pairs = [(low[r["arch_id"]]["val_acc"], r["val_acc"]) for r in multi["records"]
             if r["epochs"] == multi["top"] and r.get("status") == "ok" and r["arch_id"] in low]
    if pairs:
        better = sum(hi >= lo for lo, hi in pairs)
        print()
        print(f"promoted networks: {len(pairs)}; accuracy at the full budget >= at the first rung for {better} "
              f"({better / len(pairs):.0%}); mean gain {sum(hi - lo for lo, hi in pairs) / len(pairs):+.3f}")


if __name__ == "__main__":
    main()
