"""The default search against plain NSGA-II on the digits *network* space (real training, not a table).

Runs ``hybridnas search digits`` twice per seed, once as shipped (surrogate on) and once with
``engine.surrogate.enabled=false``, with the same number of trained networks (the space's
``pop_size`` x ``generations``), and scores every run by the hypervolume of the front its
networks form on (test error, params, FLOPs). Test accuracy is the one split neither search chose
anything on. All runs share one reference: error on [0, 1], params and FLOPs on log10 between the
smallest and largest values any run evaluated, reference point 1.1 (the project's
``normalise``/``hypervolume``). Beside the HV it prints the best test accuracy on each front and the
front's size; mean, standard deviation and worst seed per method.

    python benchmarks/digits_surrogate_vs_nsga2.py --seeds 0,1,2 [--out DIR] [--set key=value ...]

Each search writes a run into ``--out`` (default: a temporary folder); an existing run of the
same name is resumed, so a cut-short comparison continues where it stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridnas.core.moo import hypervolume, normalise  # noqa: E402
from hybridnas.core.objectives import pareto_front  # noqa: E402
from hybridnas.pipeline import open_run, run_search  # noqa: E402
from hybridnas.progress import Progress  # noqa: E402
from hybridnas.results import RunResults  # noqa: E402

METHODS = {"default (surrogate)": [], "plain NSGA-II": ["engine.surrogate.enabled=false"]}
OBJECTIVES = ("test_error", "params", "flops")


def run_one(out: Path, name: str, overrides) -> dict:
    resume = str(out / name) if (out / name / "manifest.json").exists() else None
    cfg, store = open_run(None if resume else "digits", [] if resume else overrides, name=name, out=str(out),
                          resume=resume)
    t0 = time.perf_counter()
    summary = run_search(cfg, store, Progress(quiet=True), export=False)
    records = [r for r in RunResults(store.root).records() if r.get("test_acc") is not None]
    rows = [{**r, "test_error": 1.0 - r["test_acc"]} for r in records]
    return {"rows": rows, "evaluated": summary["evaluated"], "seconds": time.perf_counter() - t0}


def score(runs) -> None:
    every = np.array([[r[o] for o in OBJECTIVES] for run in runs.values() for r in run["rows"]], dtype=float)
    lower = [0.0, every[:, 1].min(), every[:, 2].min()]
    upper = [1.0, every[:, 1].max(), every[:, 2].max()]
    for run in runs.values():
        front = pareto_front(run["rows"], OBJECTIVES)
        F = np.array([[r[o] for o in OBJECTIVES] for r in front], dtype=float)
        run["hv"] = hypervolume(normalise(F, lower, upper, (False, True, True)), [1.1, 1.1, 1.1])
        run["front"] = len(front)
        run["best_test"] = max(r["test_acc"] for r in front)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--out", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="key=value for every run")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    out = args.out or Path(tempfile.mkdtemp(prefix="hn-digits-cmp-"))
    print(f"runs in {out}; load average at the start {os.getloadavg()[0]:.1f}", flush=True)
    runs = {}
    for seed in seeds:
        for method, extra in METHODS.items():
            name = f"{'surrogate' if not extra else 'nsga2'}-{seed}"
            runs[(method, seed)] = run_one(out, name, [f"seed={seed}", *extra, *args.overrides])
            r = runs[(method, seed)]
            print(f"  {method}, seed {seed}: {r['evaluated']} networks trained, {r['seconds']:.0f} s", flush=True)
    score(runs)
    print(f"\nHV of the (test error, params, FLOPs) front, one reference for all runs; load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| method | HV mean ± std | worst seed | per seed | best test acc on the front (mean) | front size (mean) "
          "| trained per run |")
    print("|---|---|---|---|---|---|---|")
    for method in METHODS:
        hv = np.array([runs[(method, s)]["hv"] for s in seeds])
        best = np.mean([runs[(method, s)]["best_test"] for s in seeds])
        size = np.mean([runs[(method, s)]["front"] for s in seeds])
        trained = sorted({runs[(method, s)]["evaluated"] for s in seeds})
        print(f"| {method} | {hv.mean():.4f} ± {hv.std():.4f} | {hv.min():.4f} | "
              f"{' / '.join(f'{v:.4f}' for v in hv)} | {100 * best:.2f} % | {size:.1f} | {trained} |")


if __name__ == "__main__":
    main()
