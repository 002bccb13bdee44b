"""How well the per-block latency table predicts a whole network's measured latency.

For random genomes of a space's network section (over a library of random cells of the space's
ops, or the library of a finished run), it fills a :class:`~hybridnas.space.latency.LatencyTable`
(stem, every distinct cell plan, head: each timed alone) and times each whole network the same
way (warm-up, fixed batch, median of repeats; CUDA events on a GPU, perf_counter on a CPU). It
prints the ratio predicted/measured, the relative error, the rank correlations (what an
optimiser needs: the right order), and the error left after a linear fit (a per-network constant
such as launch overhead).

    python benchmarks/latency_lut.py [--space digits] [--device cpu|cuda] [--batch 1] [--genomes 40]
                                     [--run runs/digits]   # use that run's block library
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from hybridnas.config import load_config
from hybridnas.space.genome import ArchSpec, GenomeSpace
from hybridnas.space.genotype import BlockGenotype, CellGenotype
from hybridnas.space.latency import LatencyTable, _components

SHAPES = {"digits": (1, 8, 8, 10), "cifar10": (3, 32, 32, 10), "cifar100": (3, 32, 32, 100)}


def random_cell(ops, nodes, rng):
    ops = [o for o in ops if o != "none"]
    return CellGenotype(tuple(tuple((rng.choice(ops), j) for j in rng.sample(range(i), 2))
                              for i in range(2, nodes + 2)))


def ranks(v):
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v))
    return r


def kendall(a, b):
    n, s = len(a), 0
    for i in range(n):
        s += np.sum(np.sign(a[i] - a[i + 1:]) * np.sign(b[i] - b[i + 1:]))
    return s / (n * (n - 1) / 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="digits")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--genomes", type=int, default=40)
    ap.add_argument("--blocks", type=int, default=3, help="random library size (without --run)")
    ap.add_argument("--run", help="take the block library of this run")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.space)
    rng = random.Random(args.seed)
    if args.run:
        from hybridnas.results import RunResults

        blocks = tuple(e.genotype for e in RunResults(args.run).library)
    else:
        blocks = tuple(BlockGenotype(random_cell(cfg.cell.ops, cfg.cell.nodes, rng),
                                     random_cell(cfg.cell.ops, cfg.cell.nodes, rng))
                       for _ in range(args.blocks))
    c, h, w, k = SHAPES[cfg.data.dataset]
    space = GenomeSpace(cfg.network, len(blocks))
    X = space.spec.sample(np.random.default_rng(args.seed), args.genomes)
    specs = [ArchSpec(space.decode(x), blocks, cfg.network.base_width, cfg.cell.nodes, c, k, (h, w)) for x in X]

    lut = LatencyTable(None, args.device, args.batch, args.warmup, args.repeats)
    t0 = time.perf_counter()
    lut.ensure(specs)
    t_lut = time.perf_counter() - t0
    pred = np.array([lut.predict(s) for s in specs])
    t0 = time.perf_counter()
    meas = np.array([lut.measure_network(s) for s in specs])
    t_whole = time.perf_counter() - t0
    comps = sum(len(_components(s)) for s in specs)

    ratio = pred / meas
    rel = np.abs(pred - meas) / meas
    a, b = np.polyfit(pred, meas, 1)
    fit = np.abs(a * pred + b - meas) / meas
    pearson = np.corrcoef(pred, meas)[0, 1]
    spearman = np.corrcoef(ranks(pred), ranks(meas))[0, 1]
    print(f"device: {lut.name}; batch {args.batch}; space {args.space} ({c}x{h}x{w}); {args.genomes} random genomes, "
          f"{len(blocks)} blocks; warm-up {args.warmup}, median of {args.repeats}")
    print(f"latency table: {len(lut.entries)} entries for {comps} components ({t_lut:.1f} s to time); "
          f"whole networks timed in {t_whole:.1f} s")
    print(f"measured whole-network latency: median {np.median(meas):.3f} ms "
          f"(range {meas.min():.3f} .. {meas.max():.3f})")
    print(f"table sum / measured: mean {ratio.mean():.3f}, median {np.median(ratio):.3f} "
          f"(range {ratio.min():.3f} .. {ratio.max():.3f})")
    print(f"relative error of the sum: mean {rel.mean():.1%}, median {np.median(rel):.1%}, max {rel.max():.1%}")
    print(f"after a linear fit measured = {a:.3f} x sum + {b:.3f} ms: mean relative error {fit.mean():.1%}")
    print(f"correlation: Pearson {pearson:.3f}, Spearman {spearman:.3f}, Kendall tau {kendall(pred, meas):.3f}")


if __name__ == "__main__":
    main()
