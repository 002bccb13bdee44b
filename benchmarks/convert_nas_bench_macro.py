"""Turn NAS-Bench-Macro's JSON into a table hybridnas searches (a CSV and a space file beside it).

NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monto-Carlo Tree Search",
CVPR 2021; github.com/xiusu/NAS-Bench-Macro, Apache-2.0): 6,561 CIFAR-10 networks - 8 searchable
layers, each an identity, a MobileNetV2 block with kernel 3 and expansion 3, or one with kernel 5
and expansion 6 - with the test accuracy of three trainings, parameters and FLOPs. Networks that
differ only in where a stage's identity layers sit are the same network and share one result.

The JSON (``data/nas-bench-macro_cifar10.json`` in that repository, sha256 686dee83...) stays
outside this repository; this script writes, into ``--out`` (default: the JSON's folder):

- ``nas_bench_macro.csv``: genes ``l1``..``l8`` (``id``, ``mb3_k3``, ``mb6_k5``: categorical), then
  ``error`` (1 - mean test accuracy), ``test_acc`` (the mean, as a fraction), ``test_acc_std``,
  ``params`` and ``flops``, with the source in comment lines;
- ``nas_bench_macro.yaml``: a tabular space over it (objectives error, params, flops).

    python benchmarks/convert_nas_bench_macro.py /work/data/nas-bench-macro/nas-bench-macro_cifar10.json
    python benchmarks/tabular_search.py --space /work/data/nas-bench-macro/nas_bench_macro.yaml

The benchmark has no validation split: ``error`` is the mean *test* error, so searches on it
measure search efficiency only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

OPS = ("id", "mb3_k3", "mb6_k5")  # the benchmark's codes 0, 1, 2
LAYERS = 8
SHA256 = "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297"

SPACE = """\
# NAS-Bench-Macro (CIFAR-10, 6,561 networks; github.com/xiusu/NAS-Bench-Macro, Apache-2.0), converted by
# benchmarks/convert_nas_bench_macro.py. error is the mean test error of three trainings.
name: nas-bench-macro
seed: 0
genes:
{genes}
table:
  path: nas_bench_macro.csv
objectives: [error, params, flops]
evaluation:
  evaluator: table
engine:
  name: pymoo
  algorithm: nsga2
  pop_size: 10
  evaluations: 100
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", type=Path, help="nas-bench-macro_cifar10.json")
    ap.add_argument("--out", type=Path, default=None, help="folder to write into (default: the JSON's)")
    args = ap.parse_args()
    raw = args.json.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        print(f"warning: sha256 {digest} differs from the published file's {SHA256}")
    data = json.loads(raw)
    out = args.out or args.json.parent
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# NAS-Bench-Macro, CIFAR-10: https://github.com/xiusu/NAS-Bench-Macro "
        "(Apache License 2.0, Copyright 2021 Xiu Su)",
        f"# converted from {args.json.name} (sha256 {digest}) by benchmarks/convert_nas_bench_macro.py",
        "# l1..l8: the op of each searchable layer; error = 1 - mean test accuracy of 3 trainings; "
        "params, flops as published",
        ",".join([f"l{i + 1}" for i in range(LAYERS)] + ["error", "test_acc", "test_acc_std", "params", "flops"]),
    ]
    for arch in sorted(data):
        r = data[arch]
        if len(arch) != LAYERS or set(arch) - set("012"):
            raise SystemExit(f"unexpected architecture key {arch!r}")
        acc = float(r["mean_acc"]) / 100
        genes = [OPS[int(c)] for c in arch]
        lines.append(",".join(genes + [f"{1 - acc:.6f}", f"{acc:.6f}", f"{float(r['std']) / 100:.6f}",
                                       str(int(r["params"])), str(int(r["flops"]))]))
    (out / "nas_bench_macro.csv").write_text("\n".join(lines) + "\n")
    genes = "\n".join(f"  l{i + 1}: [{', '.join(OPS)}]" for i in range(LAYERS))
    (out / "nas_bench_macro.yaml").write_text(SPACE.format(genes=genes))
    print(f"wrote {out / 'nas_bench_macro.csv'} ({len(data)} networks) and {out / 'nas_bench_macro.yaml'}")


if __name__ == "__main__":
    main()
