"""Generate ``spaces/tables/digits_cells.csv``: every network of a small digits space, trained for real.

A NAS-Bench-style table for the tabular example (``spaces/digits_table.yaml``) and for
``benchmarks/tabular_search.py``. The space has seven genes (288 networks): a stem width, then two
stages of hybridnas cells (the second starts with a reduction cell), each with a depth, one of
three hand-written blocks and a width multiplier. Every network is built by hybridnas' own builder,
costed by its exact analytic cost model, and trained with the search's proxy training (SGD,
cosine schedule, seed derived from the genes) on scikit-learn's 8x8 digits.

    python benchmarks/make_digits_table.py [--epochs 4] [--workers 2] [--out spaces/tables/digits_cells.csv]

Finished networks are appended to ``<out>.partial.jsonl`` as they finish, so a killed run continues
where it stopped; the CSV is written (atomically) at the end. It took 17 minutes on a busy, shared
2-core CPU.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import time
from pathlib import Path

from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.device import derive_seed
from hybridnas.evaluate.candidate import Candidate
from hybridnas.evaluate.local import LocalEvaluator
from hybridnas.space.costs import network_cost
from hybridnas.space.genome import ArchSpec, Genome, Stage
from hybridnas.space.genotype import BlockGenotype
from hybridnas.store import atomic_write

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "spaces" / "tables" / "digits_cells.csv"

# Three blocks of two-node cells: convolution-heavy, dilated/5x5, and parameter-light.
BLOCKS = {
    "sep": "normal:sep_conv_3x3@0+sep_conv_3x3@1|sep_conv_3x3@2+skip_connect@1;"
           "reduce:sep_conv_3x3@0+sep_conv_3x3@1|max_pool_3x3@0+sep_conv_3x3@2",
    "dil": "normal:dil_conv_3x3@0+sep_conv_5x5@1|dil_conv_3x3@2+skip_connect@0;"
           "reduce:dil_conv_3x3@0+sep_conv_5x5@1|max_pool_3x3@1+dil_conv_3x3@2",
    "pool": "normal:max_pool_3x3@0+skip_connect@1|avg_pool_3x3@2+sep_conv_3x3@1;"
            "reduce:max_pool_3x3@0+avg_pool_3x3@1|skip_connect@2+max_pool_3x3@1",
}
GENES = {
    "stem": [8, 16],
    "depth1": [1, 2],
    "block1": list(BLOCKS),
    "width1": [0.5, 1.0],
    "depth2": [1, 2],
    "block2": list(BLOCKS),
    "width2": [1.0, 2.0],
}
BASE_WIDTH, NODES = 8, 2
METRICS = ["params", "macs", "flops", "val_acc", "test_acc", "train_loss", "train_seconds"]


def arch(genes, data) -> ArchSpec:
    names = list(BLOCKS)
    genome = Genome(
        genes["stem"],
        (
            Stage(genes["depth1"], names.index(genes["block1"]), float(genes["width1"]), False),
            Stage(genes["depth2"], names.index(genes["block2"]), float(genes["width2"]), True),
        ),
    )
    blocks = tuple(BlockGenotype.parse(BLOCKS[n]) for n in names)
    return ArchSpec(genome, blocks, BASE_WIDTH, NODES, data.in_chans, data.num_classes, data.image_size)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--limit", type=int, default=None, help="only the first N networks (to try the script)")
    args = ap.parse_args()

    cfg = load_config("digits", [f"evaluation.workers={args.workers}", f"evaluation.epochs={args.epochs}",
                                 "evaluation.keep_weights=none", f"seed={args.seed}"])
    data = load_dataset(cfg.data, cfg.seed)
    rows = [dict(zip(GENES, values)) for values in itertools.product(*GENES.values())][: args.limit]
    partial = args.out.with_name(args.out.name + ".partial.jsonl")
    done = {}
    if partial.exists():
        for line in partial.read_text().splitlines():
            if line.endswith("}"):
                r = json.loads(line)
                done[r["genome"]] = r
    todo, by_id = [], {}
    for genes in rows:
        spec = arch(genes, data)
        if spec.genome.to_string() in done:
            continue
        cand = Candidate(spec.arch_id, spec.to_json(), args.epochs, derive_seed(args.seed, "table", spec.arch_id))
        todo.append(cand)
        by_id[spec.arch_id] = (genes, spec)
    print(f"{len(rows)} networks, {len(done)} already trained, {len(todo)} to train "
          f"({args.epochs} epochs, {args.workers} workers)", flush=True)
    t0 = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def on_result(cand, res):
        genes, spec = by_id[cand.arch_id]
        if res.get("status") != "ok":
            raise SystemExit(f"{spec.genome}: {res.get('reason')}")
        cost = network_cost(spec)
        row = {**genes, "genome": spec.genome.to_string(), "params": cost.params, "macs": cost.macs,
               "flops": cost.flops, "val_acc": round(res["val_acc"], 6), "test_acc": round(res["test_acc"], 6),
               "train_loss": round(res["train_loss"], 6), "train_seconds": round(res["seconds"], 3)}
        with open(partial, "a") as f:
            f.write(json.dumps(row) + "\n")
        done[row["genome"]] = row
        n = len(done)
        if n % 16 == 0 or n == len(rows):
            print(f"  {n}/{len(rows)} trained, {time.perf_counter() - t0:.0f} s", flush=True)

    with LocalEvaluator(cfg, data, "cpu") as ev:
        ev.evaluate_batch(todo, on_result)

    buf = io.StringIO()
    buf.write(f"# hybridnas tabular example: every network of a 7-gene digits space, trained {args.epochs} epochs "
              f"(seed {args.seed}); written by benchmarks/make_digits_table.py\n")
    buf.write("# flops = 2 x macs (FlopCounterMode convention); val_acc/test_acc on the seeded digits splits; "
              "train_seconds measured on the machine that wrote the table\n")
    buf.write("# blocks: " + "; ".join(f"{k} = {v}" for k, v in BLOCKS.items()) + "\n")
    # "network" is the hybridnas genome string of the row ("genome" is a field of search records)
    w = csv.DictWriter(buf, fieldnames=list(GENES) + ["network"] + METRICS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for genes in rows:
        row = done[arch(genes, data).genome.to_string()]
        w.writerow({**row, "network": row["genome"]})
    atomic_write(args.out, buf.getvalue().encode())
    partial.unlink()
    print(f"wrote {args.out} ({len(rows)} rows) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
