"""Fashion-MNIST end to end, as docs/datasets.md reports it: search, pick, train on all the data.

Runs exactly what these commands run, in one process, and prints the times (with the load
average, which says whether the machine was quiet), the picked model and its accuracies beside
published baselines::

    hybridnas search fashion_mnist [--set data.path=FOLDER]
    hybridnas pick runs/fashion-mnist --rule max-acc --max-params 100000 --max-flops 4e6
    hybridnas train runs/fashion-mnist --id <picked id> --threads 2

Usage: ``python benchmarks/fashion_mnist.py [--data FOLDER] [--out runs] [--max-params 1e5] [--max-flops 4e6]
[--resume RUN] [--set KEY=VALUE ...]`` (``--data``: a folder holding the four official gzip files, e.g. one
made by ``benchmarks/fashion_mnist_from_pngs.py``; without it the space downloads them).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Published results on the same test split (zalandoresearch/fashion-mnist, README, "Benchmark").
BASELINES = [
    ("2 Conv + pooling (TensorFlow's tutorial)", "-", "91.6 %"),
    ("2 Conv, < 100k parameters (@hardmaru)", "< 100,000", "92.5 %"),
    ("2 Conv + pooling + BN (@khanguyen1207)", "-", "93.4 %"),
    ("MobileNet, horizontal flips (@bojone)", "-", "95.0 %"),
]


def main(argv=None) -> int:
    import hybridnas

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="folder holding the official gzip files (default: the space's, downloaded)")
    ap.add_argument("--out", default="runs", help="parent folder of the run")
    ap.add_argument("--name", default="fashion-mnist")
    ap.add_argument("--max-params", type=float, default=1e5, help="the picked model's parameter limit")
    ap.add_argument("--max-flops", type=float, default=4e6,
                    help="the picked model's FLOPs limit at the search's 14x14 (4e6: 16 M at 28x28), which "
                         "bounds the final training's time")
    ap.add_argument("--resume", metavar="RUN",
                    help="a search made earlier (resumed if unfinished; its summary gives the search's time)")
    ap.add_argument("--train-threads", type=int, default=os.cpu_count(),
                    help="torch threads of the final training, which runs alone (default: every core)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    overrides = list(args.overrides) + ([f"data.path={Path(args.data).resolve()}"] if args.data else [])

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if args.resume:
        run = hybridnas.search(resume=args.resume, progress=True)
        t_search = run.results.store.read_json("summary.json")["search_s"]  # every session's stages
    else:
        run = hybridnas.search("fashion_mnist", name=args.name, out=args.out, progress=True, overrides=overrides)
        t_search = time.perf_counter() - t0
    load1 = os.getloadavg()
    [best] = run.pick(rule="max-acc", max_params=args.max_params, max_flops=args.max_flops)
    t1 = time.perf_counter()
    rec = run.train(best["arch_id"], progress=True, threads=args.train_threads)
    t_train = time.perf_counter() - t1
    load2 = os.getloadavg()
    summary = run.results.store.read_json("summary.json")
    est = summary.get("estimate", {})
    sessions = summary["sessions"]  # a resumed search: every finished session's stage times
    block_s, network_s = (sum(x[k] for x in sessions) for k in ("block_stage_s", "network_stage_s"))

    print(f"\nFashion-MNIST, `hybridnas search fashion_mnist` + train of the most accurate front model under "
          f"{args.max_params:,.0f} parameters and {args.max_flops:,.0f} FLOPs at 14x14 (run {run.path})")
    print(f"load average (1, 5, 15 min): start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; after the search "
          f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; after training {load2[0]:.2f} {load2[1]:.2f} {load2[2]:.2f}")
    print(f"torch threads: search {run.config.threads or 'default (one per worker)'}, training {args.train_threads}; "
          f"cores: {os.cpu_count()}")
    print()
    print("| step | wall time | estimated before it started |")
    print("|---|---:|---:|")
    print(f"| block stage | {block_s / 60:.1f} min | {(est.get('block_stage_s') or 0) / 60:.1f} min |")
    lib = est.get("with_library") or {}
    print(f"| network stage ({summary['evaluated']} networks trained) | {network_s / 60:.1f} min | "
          f"{(lib.get('network_stage_s') or est.get('network_stage_s') or 0) / 60:.1f} min |")
    print(f"| search in all | {t_search / 60:.1f} min | {(est.get('total_s') or 0) / 60:.1f} min |")
    print(f"| full training ({rec['epochs']} epochs, {rec['data']['sizes']['train']:,} images at "
          f"{rec['image_size'][0]}x{rec['image_size'][1]}) | {t_train / 60:.1f} min | |")
    print(f"| **search + training** | **{(t_search + t_train) / 60:.1f} min** | |")
    print()
    print(f"front: {summary['front_size']} models, "
          f"{summary['params_range'][0]:,} .. {summary['params_range'][1]:,} params")
    print(f"picked: `{rec['arch_id']}` `{rec['genome']}`: {rec['params']:,} params, {rec['flops']:,} FLOPs at 28x28 "
          f"({rec.get('search_flops', rec['flops']):,} at the search's "
          f"{'x'.join(map(str, rec.get('search_image_size', rec['image_size'])))})")
    print(f"proxy (search, {rec['proxy_epochs']} epochs on {run.results.split_sizes().get('train', 0):,} "
          f"images at 14x14): "
          f"val {100 * rec['proxy_val_acc']:.2f} %, test {100 * rec['proxy_test_acc']:.2f} % "
          f"(on {run.config.data.test_subset:,} test images)")
    print(f"full training: **{100 * rec['test_acc']:.2f} % test** on {rec['data']['sizes']['test']:,} images "
          f"({rec['data']['splits']}, {rec['seconds'] / 60:.1f} min)")
    print()
    print("| model | params | test accuracy |")
    print("|---|---:|---:|")
    print(f"| hybridnas (this run) | {rec['params']:,} | {100 * rec['test_acc']:.2f} % |")
    for name, params, acc in BASELINES:
        print(f"| {name} | {params} | {acc} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
