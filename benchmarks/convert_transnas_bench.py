"""Turn NASLib's sample of TransNAS-Bench-101's macro space into tables hybridnas searches (a sparse table per task).

TransNAS-Bench-101 (Duan et al., "TransNAS-Bench-101: Improving Transferability and
Generalizability of Cross-Task Neural Architecture Search", CVPR 2021; github.com/yawen-d/
TransNASBench, MIT): 3,256 macro-level networks (4 to 6 modules, each keeping the resolution and
width, doubling the width, halving the resolution, or both; codes 1-4) trained on seven Taskonomy
tasks. Its full table is only on a cloud drive; NAS-Bench-Suite-Zero (Krishnakumar et al. 2022)
committed a random sample of it with each network's validation metric, parameters and FLOPs to
NASLib (github.com/automl/NASLib, Apache-2.0, commit e5a821c2:
``naslib/data/zc_transbench101_macro.json``, sha256 in ``SHA256``): 662 networks per task. This
script writes that sample as a sparse table - genes ``m1``..``m6`` (codes, categorical; ``m5``,
``m6`` 0 for an absent module), every other combination infeasible (about 10 % of the 6,400
combinations have a row) - so a search must find its way among holes:

    git clone https://github.com/automl/NASLib /tmp/NASLib
    mkdir -p /work/data/transnas-bench-101
    git -C /tmp/NASLib show e5a821c2:naslib/data/zc_transbench101_macro.json \\
        > /work/data/transnas-bench-101/zc_transbench101_macro.json
    python benchmarks/convert_transnas_bench.py /work/data/transnas-bench-101/zc_transbench101_macro.json

It writes, into ``--out/<task>/`` (default: the JSON's folder), ``transnas_macro_<task>.csv`` -
genes, then ``error`` (1 - validation accuracy, for the classification tasks), ``params`` and
``flops`` (millions) - and ``transnas_macro_<task>.yaml`` (objectives error, params, flops).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
from pathlib import Path

SHA256 = "f1d393373855bd7ba29bc81b33adb947ef2518d82aa0e6c003809ce6a4d94212"
TASKS = ("class_object", "class_scene", "jigsaw")  # the tasks whose metric is an accuracy in %

SPACE = """\
# TransNAS-Bench-101 macro space, {task} ({rows} networks: NAS-Bench-Suite-Zero's sample in NASLib, Apache-2.0;
# TransNAS-Bench-101 github.com/yawen-d/TransNASBench, MIT), converted by benchmarks/convert_transnas_bench.py.
# error = 1 - validation accuracy; a combination without a row is infeasible (a sparse table).
name: transnas-macro-{slug}
seed: 0
genes:
  m1: {{choices: [1, 2, 3, 4], type: categorical}}
  m2: {{choices: [1, 2, 3, 4], type: categorical}}
  m3: {{choices: [1, 2, 3, 4], type: categorical}}
  m4: {{choices: [1, 2, 3, 4], type: categorical}}
  m5: {{choices: [0, 1, 2, 3, 4], type: categorical}}
  m6: {{choices: [0, 1, 2, 3, 4], type: categorical}}
table:
  path: transnas_macro_{task}.csv
objectives: [error, params, flops]
evaluation:
  evaluator: table
engine:
  name: pymoo
  algorithm: nsga2
  pop_size: 10
  evaluations: 100
"""


def convert(data: dict, task: str, digest: str, out: Path) -> None:
    if task not in TASKS:
        raise SystemExit(f"task '{task}' has no accuracy metric here; choose from {', '.join(TASKS)}")
    lines = [
        "# TransNAS-Bench-101 (github.com/yawen-d/TransNASBench, MIT), macro space, task " + task + ": the sample",
        f"# NAS-Bench-Suite-Zero committed to NASLib (Apache-2.0), zc_transbench101_macro.json (sha256 {digest}),",
        "# by benchmarks/convert_transnas_bench.py. m1..m6: module codes (0: no module); error = 1 - val accuracy;",
        "# params and flops in millions",
        "m1,m2,m3,m4,m5,m6,error,params,flops",
    ]
    header = len(lines)
    for key in sorted(data[task]):
        r = data[task][key]
        arch = ast.literal_eval(key)
        if len(arch) != 6 or not all(1 <= a <= 4 for a in arch[:4]) or not all(0 <= a <= 4 for a in arch[4:]):
            raise SystemExit(f"unexpected architecture {key!r}")
        acc = float(r["val_accuracy"]) / 100
        lines.append(",".join([*map(str, arch), f"{1 - acc:.6f}", f"{float(r['params']['score']):.6g}",
                               f"{float(r['flops']['score']):.6g}"]))
    folder = out / task
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"transnas_macro_{task}.csv"
    csv.write_text("\n".join(lines) + "\n")
    (folder / f"transnas_macro_{task}.yaml").write_text(
        SPACE.format(task=task, slug=task.replace("_", "-"), rows=len(lines) - header))
    print(f"wrote {csv} ({len(lines) - header} networks)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", type=Path, help="zc_transbench101_macro.json from NASLib at commit e5a821c2")
    ap.add_argument("--tasks", default="class_object", help=f"comma-separated, of: {', '.join(TASKS)}")
    ap.add_argument("--out", type=Path, default=None, help="folder to write into (default: the JSON's)")
    args = ap.parse_args()
    raw = args.json.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        print(f"warning: sha256 {digest} differs from NASLib e5a821c2's {SHA256}")
    data = json.loads(raw)
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        convert(data, task, digest, args.out or args.json.parent)


if __name__ == "__main__":
    main()
