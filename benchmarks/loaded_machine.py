"""How much one competing CPU-bound process slows a search: quiet against loaded, side by side.

Runs the same small search (the default space, shortened by ``--set``; each in a fresh process,
as a user runs it) alternately without and with a competing process that keeps one core busy
(a Python busy loop), in the order quiet, loaded, loaded, quiet, ... so a drift of the machine's
own load hits both. Prints each run's wall time, the load average when it started, and the
ratio of the medians, loaded over quiet: the thread policy aims at about the share of the cores
the search loses (1.5x on 2 cores with 2 workers), not the 4-9x of spinning OpenMP threads.

``--policy old`` runs the thread policy hybridnas had before: torch's own thread count (every
core) in the search process, which trains the supernet, and OpenMP's default, spinning wait
(``OMP_WAIT_POLICY=ACTIVE``) - evaluation workers had one core's share each already, and the
``--threads`` this sets is still capped to that share; ``--policy new`` the current defaults (one
thread per process, passive wait); ``both`` (default) measures both, interleaved.

    python benchmarks/loaded_machine.py [--rounds 2] [--policy both] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["engine.generations=2", "engine.pop_size=8", "block.warmup_epochs=1", "block.epochs=2",
         "block.library=[{lam: 0.1}]"]


def search(out: Path, name: str, overrides, policy: str) -> float:
    env = dict(os.environ)
    args = [sys.executable, "-m", "hybridnas.cli.main", "search", "--out", str(out), "--name", name, "--quiet",
            "--no-export", "--device", "cpu"]
    if policy == "old":
        env["OMP_WAIT_POLICY"] = "ACTIVE"
        args += ["--threads", str(os.cpu_count() or 1)]  # what torch chose before: every core
    else:
        env.pop("OMP_WAIT_POLICY", None)
    for o in overrides:
        args += ["--set", o]
    t = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="pairs of (quiet, loaded) runs per policy")
    ap.add_argument("--policy", choices=("new", "old", "both"), default="both")
    ap.add_argument("--set", dest="overrides", action="append", default=None,
                    help=f"overrides of the search (default: {' '.join(SMALL)})")
    args = ap.parse_args()
    overrides = SMALL if args.overrides is None else args.overrides
    policies = ("new", "old") if args.policy == "both" else (args.policy,)
    print(f"search: spaces/digits.yaml {' '.join(overrides)}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    times = {(p, loaded): [] for p in policies for loaded in (False, True)}
    with tempfile.TemporaryDirectory(prefix="hnload") as tmp:
        k = 0
        for rnd in range(args.rounds):
            for policy in policies:
                order = (False, True) if rnd % 2 == 0 else (True, False)
                for loaded in order:
                    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if loaded else None
                    try:
                        load = os.getloadavg()[0]
                        t = search(Path(tmp), f"r{k}", overrides, policy)
                    finally:
                        if hog is not None:
                            hog.kill()
                            hog.wait()
                    k += 1
                    times[(policy, loaded)].append(t)
                    print(f"  round {rnd + 1}, policy {policy}, {'loaded' if loaded else 'quiet '}: {t:6.1f} s "
                          f"(load average {load:.2f} at its start)", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}\n")
    print("| policy | quiet (median s) | with one busy process (median s) | ratio |")
    print("|---|---:|---:|---:|")
    for p in policies:
        q, l = statistics.median(times[(p, False)]), statistics.median(times[(p, True)])
        print(f"| {p} | {q:.1f} | {l:.1f} | {l / q:.2f}x |")
    if len(policies) == 2:
        print(f"\nnew policy against old, quiet: "
              f"{statistics.median(times[('old', False)]) / statistics.median(times[('new', False)]):.2f}x "
              f"faster; loaded: "
              f"{statistics.median(times[('old', True)]) / statistics.median(times[('new', True)]):.2f}x faster")


if __name__ == "__main__":
    main()
