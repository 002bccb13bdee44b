"""channels-last (NHWC) against the default layout (NCHW), side by side in one process.

Candidates: random networks of the space (``--candidates``), each trained for ``--epochs`` in
both layouts, alternately (NCHW, NHWC, then NHWC, NCHW for the next: a drift of the machine's
load hits both). Supernet: ``--steps`` bilevel steps of the space's block strategy, alternating
the same way. One torch thread (the default policy). Prints the time of each and the speedups;
the defaults (``evaluation.channels_last``, ``block.channels_last``: on) rest on these numbers.

    python benchmarks/channels_last.py [--space digits] [--candidates 10] [--epochs 2] [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hybridnas.config import load_config  # noqa: E402
from hybridnas.data import batches, load_dataset  # noqa: E402
from hybridnas.evaluate.base import evaluate_candidate  # noqa: E402
from hybridnas.network.scheduler import random_candidates  # noqa: E402
from hybridnas.training import TrainSettings  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluators import random_block  # noqa: E402


def candidates_part(args, cfg, data):
    rng = np.random.default_rng(args.seed)
    ops = [op for op in cfg.cell.ops if op != "none"]
    blocks = [random_block(rng, ops, cfg.cell.nodes) for _ in range(3)]
    cands = random_candidates(cfg, blocks, data, args.candidates, seed=args.seed)
    base = TrainSettings.from_eval(cfg.evaluation, epochs=args.epochs)
    times = {False: [], True: []}
    for i, c in enumerate(cands):
        c = replace(c, epochs=args.epochs)
        for layout in ((False, True) if i % 2 == 0 else (True, False)):
            t = time.perf_counter()
            r = evaluate_candidate(c, data, replace(base, channels_last=layout), "cpu", keep_state=False)
            times[layout].append(time.perf_counter() - t)
            assert r["status"] == "ok", r
    a, b = np.array(times[False]), np.array(times[True])
    print(f"candidates: {len(cands)} networks x {args.epochs} epochs; NCHW {a.sum():.1f} s, NHWC {b.sum():.1f} s: "
          f"{a.sum() / b.sum():.2f}x faster (per network {np.min(a / b):.2f}x .. {np.max(a / b):.2f}x; "
          f"slower with NHWC: {int(np.sum(b > a))} of {len(cands)})", flush=True)


def supernet_part(args, cfg, data):
    from hybridnas.block.stage import build_supernet
    from hybridnas.block.strategies.base import build_strategy

    w_half, a_half = data.train.halves(0)
    tr = list(batches(w_half, cfg.block.batch_size, shuffle=False, drop_last=True))
    va = list(batches(a_half, cfg.block.batch_size, shuffle=False, drop_last=True))
    member = dict(cfg.block.library[0]) if cfg.block.library else {}
    options = {**dict(cfg.block.strategy.options), **member}

    def strategy(layout):
        net = build_supernet(cfg, data, "cpu").set_channels_last(layout)
        s = build_strategy(cfg.block.strategy.name, net, cfg.block, options)
        s.step(tr[0], va[0])  # first step: allocations, kernel selection
        return s

    s = {layout: strategy(layout) for layout in (False, True)}
    times = {False: 0.0, True: 0.0}
    for k in range(args.steps):
        i = 1 + k % (min(len(tr), len(va)) - 1)
        for layout in ((False, True) if k % 2 == 0 else (True, False)):
            t = time.perf_counter()
            s[layout].step(tr[i], va[i])
            times[layout] += time.perf_counter() - t
    print(f"supernet ({cfg.block.strategy.name}, width {cfg.block.width}, {cfg.block.cells} cells): "
          f"{args.steps} bilevel steps, NCHW {times[False]:.1f} s, NHWC {times[True]:.1f} s: "
          f"{times[False] / times[True]:.2f}x faster", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="digits")
    ap.add_argument("--candidates", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(args.space, ["device=cpu", *args.overrides])
    data = load_dataset(cfg.data, cfg.seed)
    print(f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}",
          flush=True)
    candidates_part(args, cfg, data)
    supernet_part(args, cfg, data)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
