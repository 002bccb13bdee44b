"""Run the default search (spaces/digits.yaml) once and print what the docs report about it
(docs/getting-started.md, "What the default search gives"; idle workers in docs/scaling.md):
wall time of each stage, the front's size and parameter span, the best model's accuracy with
its standard error, and how long evaluation workers sat idle. On a shared machine the wall time
says little; the CPU time of the search process and its workers gives a load-independent
estimate of the wall time on an idle machine.

Idle worker time, per generation: workers x the generation's wall time, minus the seconds the
candidates trained (measured; the first generation includes the workers' start-up). Beside it,
from the same trainings' durations, what list scheduling gives at the generation barrier: in a
random order (what the search did before it sorted batches; mean over 1,000 orders), longest
first by analytic MACs (what it does now), and what is left of that - the most a steady-state
(asynchronous) NSGA-II, which has no barrier, could win back.

    python benchmarks/default_search.py [--name NAME] [--set key=value ...]
    python benchmarks/default_search.py --idle-only runs/digits     # the idle accounting of a finished run
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridnas.pipeline import open_run, run_search  # noqa: E402
from hybridnas.progress import Progress  # noqa: E402
from hybridnas.results import RunResults  # noqa: E402


def makespan(durations, workers: int) -> float:
    """Wall time of greedy list scheduling: each task in turn goes to the first free worker."""
    free = [0.0] * workers
    for d in durations:
        k = int(np.argmin(free))
        free[k] += d
    return max(free) if durations else 0.0


def idle_accounting(run: RunResults, shuffles: int = 1000) -> dict:
    cfg = run.config
    workers = cfg.evaluation.workers
    recs = run.records(status=None, budget="all")
    gens = run.generations()
    batches = {}  # (generation, rung) -> [(macs x epochs, seconds)]
    for r in recs:
        if r.get("seconds") is not None:
            batches.setdefault((r.get("generation", 0), r.get("rung", 0)), []).append(
                (r.get("macs", 0) * (r.get("trained_epochs") or r.get("epochs") or 1), r["seconds"]))
    measured, prev = [], 0.0
    for g in gens:
        busy = sum(s for (gen, _), b in batches.items() if gen == g["generation"] for _, s in b)
        span = g["elapsed_s"] - prev
        prev = g["elapsed_s"]
        measured.append(workers * span - busy)
    rng = np.random.default_rng(0)
    fifo = lpt = oracle = 0.0
    for b in batches.values():
        d = np.array([s for _, s in b])
        busy = d.sum()
        fifo += np.mean([workers * makespan(list(rng.permutation(d)), workers) - busy for _ in range(shuffles)])
        lpt += workers * makespan([s for _, s in sorted(b, key=lambda t: -t[0])], workers) - busy
        oracle += workers * makespan(sorted(d, reverse=True), workers) - busy
    return {"workers": workers, "measured": measured, "random_order": fifo, "longest_first": lpt,
            "oracle": oracle, "busy": sum(s for b in batches.values() for _, s in b)}


def print_idle(run: RunResults) -> None:
    a = idle_accounting(run)
    m = a["measured"]
    print(f"idle worker time ({a['workers']} workers; {a['busy']:.0f} worker-s of training): measured "
          f"{sum(m):.1f} s (per generation: {', '.join(f'{v:.1f}' for v in m)}; the first includes start-up); "
          f"at the generation barriers, from these durations: random order {a['random_order']:.1f} s, "
          f"longest first by MACs {a['longest_first']:.1f} s (what a barrier-free, asynchronous NSGA-II could win "
          f"back), longest first by the true durations {a['oracle']:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--idle-only", metavar="RUN", help="only print the idle accounting of a finished run")
    args = ap.parse_args()
    if args.idle_only:
        print_idle(RunResults(args.idle_only))
        return
    import resource

    load = os.getloadavg()
    cfg, store = open_run(None, args.overrides, name=args.name)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    s = run_search(cfg, store, Progress(quiet=True))
    wall = time.perf_counter() - t0
    me2, kids2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_self = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    cpu_workers = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    run = RunResults(store.root)
    front = run.front()
    print(f"run: {s['run']}  (load average at the start {load[0]:.2f}, at the end {os.getloadavg()[0]:.2f})")
    print(f"wall time: {wall:.0f} s (block stage {s['block_stage_s']:.0f} s, "
          f"network stage {s['network_stage_s']:.0f} s)")
    w = max(cfg.evaluation.workers, 1)
    print(f"CPU time: search process {cpu_self:.0f} s, evaluation workers {cpu_workers:.0f} s; on an idle machine with "
          f"a core per worker that is about {cpu_self + cpu_workers / w:.0f} s of wall time (a load-independent "
          f"estimate: search process + workers / {w})")
    print(f"evaluated: {s['evaluated']}; front: {len(front)} models; params {s['params_range'][0]:,} .. "
          f"{s['params_range'][1]:,} ({s['params_span']:.1f}x)")
    best = max(front, key=lambda r: r["val_acc"])
    print(f"most accurate on the front: val {best['val_acc']:.4f} ± {best['val_acc_se']:.4f}, test "
          f"{best['test_acc']:.4f} ± {best['test_acc_se']:.4f}, {best['params']:,} params, id {best['arch_id']}")
    marked = sum(1 for r in front if r.get("within_noise_of"))
    print(f"front members within noise of one that costs no more: {marked} of {len(front)}")
    print_idle(run)
    print()
    print(f"| {'params':>8} | {'FLOPs':>10} | {'val acc ± se':>15} | {'test acc ± se':>15} | genome")
    print(f"|{'-' * 10}|{'-' * 12}|{'-' * 17}|{'-' * 17}|--------")
    for r in front:
        noise = " (within noise)" if r.get("within_noise_of") else ""
        print(f"| {r['params']:>8,} | {r['flops']:>10,} | {r['val_acc']:.4f} ± {r['val_acc_se']:.4f} | "
              f"{r['test_acc']:.4f} ± {r['test_acc_se']:.4f} | `{r['genome']}`{noise}")
    print(json.dumps({"wall_s": wall, "block_s": s["block_stage_s"], "network_s": s["network_stage_s"],
                      "cpu_search_s": cpu_self, "cpu_workers_s": cpu_workers,
                      "front": len(front), "params_span": s["params_span"]}))


if __name__ == "__main__":
    main()
