"""Run the default search (spaces/digits.yaml) once and print what the README reports about it:
wall time of each stage, the front's size and parameter span, and the best model's accuracy.

    python benchmarks/default_search.py [--name NAME] [--set key=value ...]
"""

import argparse
import json
import time

from hybridnas.pipeline import open_run, run_search
from hybridnas.progress import Progress


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    cfg, store = open_run(None, args.overrides, name=args.name)
    t0 = time.perf_counter()
    s = run_search(cfg, store, Progress(quiet=True))
    wall = time.perf_counter() - t0
    front = json.loads(store.path("front.json").read_text())["members"]
    print(f"run: {s['run']}")
    print(f"wall time: {wall:.0f} s (block stage {s['block_stage_s']:.0f} s, network stage {s['network_stage_s']:.0f} s)")
    print(f"evaluated: {s['evaluated']}; front: {len(front)} models; params {s['params_range'][0]:,} .. "
          f"{s['params_range'][1]:,} ({s['params_span']:.1f}x)")
    best = max(front, key=lambda r: r["val_acc"])
    print(f"most accurate on the front: val {best['val_acc']:.4f}, test {best['test_acc']:.4f}, "
          f"{best['params']:,} params, id {best['arch_id']}")
    print()
    print(f"| {'params':>8} | {'FLOPs':>10} | {'val acc':>7} | {'test acc':>8} | genome")
    print(f"|{'-' * 10}|{'-' * 12}|{'-' * 9}|{'-' * 10}|--------")
    for r in front:
        print(f"| {r['params']:>8,} | {r['flops']:>10,} | {r['val_acc']:>7.4f} | {r['test_acc']:>8.4f} | `{r['genome']}`")


if __name__ == "__main__":
    main()
