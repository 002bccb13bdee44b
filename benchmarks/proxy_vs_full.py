"""Train every front model of a run fully and print how well the search's proxy ranked them,
with what one export of each format costs.

    python benchmarks/proxy_vs_full.py RUN [--epochs N] [--device cpu|cuda] [--limit K] [--no-export]

Runs ``hybridnas train`` for each front member (resuming any that were interrupted; finished
ones are reused), then prints a table of proxy and full-training accuracy, Kendall's tau and
Spearman's rho between them, and the time of exporting the most accurate model to each format.
"""

import argparse
import time

from hybridnas.analysis.proxy import proxy_agreement
from hybridnas.export import export_model
from hybridnas.progress import Progress
from hybridnas.results import RunResults
from hybridnas.retrain import train_model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--epochs", type=int, help="override train.epochs")
    ap.add_argument("--device", default=None)
    ap.add_argument("--limit", type=int, default=None, help="train only the K most accurate front models")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()
    results = RunResults(args.run)
    overrides = {"epochs": args.epochs}
    front = sorted(results.front(), key=lambda r: -r["val_acc"])[: args.limit]
    t0 = time.perf_counter()
    rows = []
    for r in front:
        rows.append(train_model(results, r["arch_id"], overrides, device=args.device, progress=Progress(quiet=True)))
        print(f"trained {r['arch_id']} in {rows[-1]['seconds']:.1f} s", flush=True)
    print(f"\nfull training of {len(rows)} models: {time.perf_counter() - t0:.0f} s wall; "
          f"settings {rows[0]['settings']}\n")
    print(f"| {'arch id':<12} | {'params':>7} | {'proxy val':>9} | {'proxy test':>10} | {'full val':>8} "
          f"| {'full test':>9} |")
    print(f"|{'-' * 14}|{'-' * 9}|{'-' * 11}|{'-' * 12}|{'-' * 10}|{'-' * 11}|")
    for r in sorted(rows, key=lambda r: r["params"]):
        print(f"| {r['arch_id']:<12} | {r['params']:>7,} | {r['proxy_val_acc']:>9.4f} | {r['proxy_test_acc']:>10.4f} | "
              f"{r['val_acc']:>8.4f} | {r['test_acc']:>9.4f} |")
    a = proxy_agreement(rows)
    print()
    if "note" in a:
        print(a["note"])
    else:
        f = lambda v: "undefined" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"proxy val acc vs full test acc: Kendall tau {f(a['kendall_tau_test'])}, "
              f"Spearman rho {f(a['spearman_test'])}")
        print(f"proxy val acc vs full val acc:  Kendall tau {f(a['kendall_tau_val'])}, "
              f"Spearman rho {f(a['spearman_val'])}")
    mean = lambda k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    print(f"mean test accuracy: proxy {mean('proxy_test_acc'):.4f} -> full {mean('test_acc'):.4f}")
    if args.no_export:
        return
    best = max(rows, key=lambda r: r["val_acc"])
    print(f"\nexport of {best['arch_id']} ({best['params']:,} params), seconds per format (with its reload check):")
    for fmt in ("state", "pt2", "onnx", "torchscript"):
        formats = ("state",) if fmt == "state" else ("state", fmt)
        t = time.perf_counter()
        export_model(results, best["arch_id"], formats=formats, out=results.store.path(f"exports/bench-{fmt}"))
        dt = time.perf_counter() - t
        print(f"  {fmt:<12} {dt:6.2f} s" + ("" if fmt == "state" else " (state included)"))


if __name__ == "__main__":
    main()
