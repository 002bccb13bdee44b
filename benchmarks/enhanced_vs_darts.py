"""DARTS against the enhanced gradient on digits, same budget, several seeds.

For each seed and method the block stage of the default space runs (shared-style warm-up, then
one search member), and the derived block is measured: params and FLOPs of one normal cell and
of the reference network (the supernet's layout built from the block) at the reference width,
the stand-alone test accuracy of that reference network after the same short training, and the
search time per epoch. Finally the supernet memory estimate is compared with the peak measured
in a fresh process for the default space.

    python benchmarks/enhanced_vs_darts.py [--seeds 0 1 2] [--lam 0.4] [--train-epochs 15] [--threads 1]

One torch thread by default: on a 2-core machine shared with other work, two threads spin-wait
and run several times slower (a DARTS step is as fast on one thread as on two here).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from hybridnas.block.stage import BlockStage, alpha_history
from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.device import derive_seed
from hybridnas.progress import Progress
from hybridnas.space.builder import build_network
from hybridnas.space.genome import ArchSpec
from hybridnas.space.library import reference_genome
from hybridnas.store import RunStore
from hybridnas.training import TrainSettings, fit

MEMORY_PROBE = r"""
import sys, gc, torch, json
from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.block.stage import build_supernet
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.memory import estimate
cfg = load_config()
data = load_dataset(cfg.data, 0)
net = build_supernet(cfg, data, "cpu")
b = cfg.block
s = build_strategy(b.strategy.name, net, b, {**b.strategy.options, **b.library[-1]})
est = estimate(s, (data.in_chans, *data.image_size), data.num_classes, b.batch_size)
x, y = data.train.x[: b.batch_size], data.train.y[: b.batch_size]
s.begin_epoch(0, 1)
gc.collect()
def status(key):
    with open("/proc/self/status") as f:
        return int(f.read().split(key + ":")[1].split()[0]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak-RSS high-water mark (Linux)
base = status("VmRSS")
for _ in range(3):
    s.step((x, y), (x, y))
peak = status("VmHWM")
print(json.dumps({"estimate": est.total(), "measured": peak - base, "batch": b.batch_size}))
"""


def search_block(method, lam, seed, cfg_overrides):
    overrides = [f"seed={seed}", *cfg_overrides]
    if method == "darts":
        overrides += ["block.strategy.name=darts"]
    overrides += [f"block.library=[{{lam: {lam}}}]" if method == "enhanced" else "block.library=[{}]"]
    cfg = load_config(None, overrides)
    data = load_dataset(cfg.data, cfg.seed)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        t0 = time.perf_counter()
        entry = BlockStage(cfg, data, store, torch.device("cpu"), Progress(quiet=True)).run()[0]
        total = time.perf_counter() - t0
        epochs = [r["seconds"] for r in alpha_history(store)]
    return cfg, data, entry, sum(epochs) / len(epochs), total


def standalone_accuracy(cfg, data, entry, epochs, seed):
    w = cfg.block.reference_width
    spec = ArchSpec(reference_genome(cfg.block.cells, w), (entry.genotype,), w, cfg.cell.nodes,
                    data.in_chans, data.num_classes, data.image_size)
    torch.manual_seed(derive_seed(seed, "standalone"))
    model = build_network(spec)
    s = TrainSettings(epochs=epochs, batch_size=64, lr=0.05)
    return fit(model, data, s, seed=seed, eval_splits=("test",))["test_acc"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lam", type=float, default=None, help="enhanced weight (default: the largest of the library)")
    ap.add_argument("--train-epochs", type=int, default=15)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args()
    cfg0 = load_config()
    lam = args.lam if args.lam is not None else max(m.get("lam", 0.0) for m in cfg0.block.library)
    torch.set_num_threads(args.threads)
    rows = []
    for seed in args.seeds:
        for method in ("darts", "enhanced"):
            cfg, data, entry, per_epoch, total = search_block(method, lam, seed, args.overrides)
            acc = standalone_accuracy(cfg, data, entry, args.train_epochs, seed)
            rows.append(dict(method=method, seed=seed, cell_params=entry.cell_params, cell_flops=2 * entry.cell_macs,
                             net_params=entry.net_params, net_flops=2 * entry.net_macs, acc=acc, epoch_s=per_epoch,
                             genotype=str(entry.genotype)))
            r = rows[-1]
            print(f"{method:<9} seed {seed}: cell {r['cell_params']:>6,} params, net {r['net_params']:>8,} params "
                  f"{r['net_flops']:>11,} FLOPs, test acc {acc:.4f}, {per_epoch:.1f} s/epoch", flush=True)
    print(f"\nSame budget: {cfg0.block.warmup_epochs} warm-up + {cfg0.block.epochs} search epochs, supernet "
          f"{len(cfg0.cell.ops)} ops x {cfg0.cell.nodes} nodes, C={cfg0.block.width}, {cfg0.block.cells} cells; "
          f"enhanced lam={lam} ({cfg0.block.strategy.options.get('mode', 'additive')}); reference net at width "
          f"{cfg0.block.reference_width}, trained {args.train_epochs} epochs; seeds {args.seeds}\n")
    print("| method | cell params | cell FLOPs | net params | net FLOPs | test acc | s/epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    agg = {}
    for method in ("darts", "enhanced"):
        rs = [r for r in rows if r["method"] == method]
        m = {k: statistics.mean(r[k] for r in rs)
             for k in ("cell_params", "cell_flops", "net_params", "net_flops", "acc", "epoch_s")}
        sd = {k: statistics.pstdev(r[k] for r in rs) for k in m}
        agg[method] = m
        print(f"| {method} | {m['cell_params']:,.0f} ± {sd['cell_params']:,.0f} "
              f"| {m['cell_flops']:,.0f} ± {sd['cell_flops']:,.0f} "
              f"| {m['net_params']:,.0f} ± {sd['net_params']:,.0f} | {m['net_flops']:,.0f} ± {sd['net_flops']:,.0f} "
              f"| {100 * m['acc']:.2f} ± {100 * sd['acc']:.2f} % | {m['epoch_s']:.1f} |")
    e, d = agg["enhanced"], agg["darts"]
    print(f"\nenhanced / darts: cell params {e['cell_params'] / d['cell_params']:.2f}x, net params "
          f"{e['net_params'] / d['net_params']:.2f}x, net FLOPs {e['net_flops'] / d['net_flops']:.2f}x, "
          f"accuracy {100 * (e['acc'] - d['acc']):+.2f} points, time per epoch {e['epoch_s'] / d['epoch_s']:.2f}x")

    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, check=True)
    import json

    mem = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\nsupernet memory (default space, batch {mem['batch']}): estimate {mem['estimate'] / 2**20:.0f} MiB, "
          f"measured peak {mem['measured'] / 2**20:.0f} MiB (increase of the peak RSS over three search steps in a "
          f"fresh process), estimate/measured = {mem['estimate'] / mem['measured']:.2f}")


if __name__ == "__main__":
    main()
