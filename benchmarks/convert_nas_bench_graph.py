"""Turn NAS-Bench-Graph's look-up tables into tables hybridnas searches (a CSV and a space file per dataset).

NAS-Bench-Graph (Qin et al., "NAS-Bench-Graph: Benchmarking Graph Neural Architecture Search",
NeurIPS 2022 Datasets and Benchmarks; github.com/THUMNLab/NAS-Bench-Graph, Apache-2.0): 26,206
distinct graph neural networks, each trained on nine node-classification datasets (three seeds;
the repository's ``light`` tables keep the mean validation and test performance, the inference
latency in seconds and the parameters in millions). A network is a DAG of four computing nodes,
each fed by one earlier node (``link``: one of nine wirings, 0 the input), each with one of nine
operations (``gat``, ``gcn``, ``gin``, ``cheb``, ``sage``, ``arma``, ``graph``, ``fc``, ``skip``;
ogbn-proteins has five). The benchmark keys a network by a canonical hash that merges
isomorphic wirings; this script writes every (link, op1..op4) combination with the row of its
canonical network, so different genes share one result, as different layouts do in
NAS-Bench-Macro. Combinations the benchmark does not hold (all four ``skip``) are left out: the
search treats them as infeasible.

Source: the repository at commit be42534 (``nas-bench-graph/light/<dataset>.bench``, Python pickles
of ``{hash: {valid_perf, perf, latency, para}}``, sha256 in ``SHA256`` below), and its
``architecture.py`` (``Arch(link, ops).valid_hash()``), imported from the checkout when the script
runs (nothing of it is copied here). Both stay outside this repository:

    git clone https://github.com/THUMNLab/NAS-Bench-Graph /work/data/nas-bench-graph
    python benchmarks/convert_nas_bench_graph.py /work/data/nas-bench-graph --datasets cora,arxiv,proteins
    python benchmarks/tabular_search.py --space /work/data/nas-bench-graph/cora/nas_bench_graph_cora.yaml

It writes, into ``--out/<dataset>/`` (default: the checkout), ``nas_bench_graph_<dataset>.csv`` -
genes ``link``, ``op1``..``op4`` (categorical), then ``error`` (1 - mean validation performance:
accuracy, or ROC-AUC on ogbn-proteins), ``test_error``, ``latency`` (seconds) and ``params``
(millions) - and ``nas_bench_graph_<dataset>.yaml``, a tabular space with objectives error,
latency and params. The pickles are read with :mod:`pickle`: convert only files you fetched
from the source above (their sha256 is checked; a mismatch stops the script).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import pickle
from pathlib import Path

# the benchmark's wirings (architecture.link_list) and operations (gnn_list, gnn_list_proteins)
LINKS = ((0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3), (0, 1, 1, 1), (0, 1, 1, 2),
         (0, 1, 2, 2), (0, 1, 2, 3))
OPS = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
OPS_PROTEINS = ("gcn", "sage", "arma", "fc", "skip")
SHA256 = {  # nas-bench-graph/light/<dataset>.bench at commit be42534
    "arxiv": "7ee21a7653297a806c0ed1be3efe6ecc06acc84e48e942da0bfde0e5d287debe",
    "citeseer": "99c7f79b73372636305bf73fb32a58b63c57bd1871a152dd62ec72d984c8c50f",
    "computers": "fdb3dc0cf405d62322f0ab9614b2083c2a5e6576c2f43e4f2214be64bc62b1b3",
    "cora": "5e69b2f9bb08d8927d9ffd4921f8494a3cea349c9c3a461334cb9dc9e11701a8",
    "cs": "71ae8469930517160b024f52db6000a4897f1aff5d765beb27bb60952ed5bd31",
    "photo": "5511b4dc3f63fa988792177227db7901290fb9b27fc6c02e3036b29e134ed6df",
    "physics": "1e309bafee0b832c8b84fa3c039c36992bc0a910238b128f26b7e9190d7f2aea",
    "proteins": "b9e7fb0902bda44fec32c948e5fde822fb22d38d674c52e43ace5197378f2d21",
    "pubmed": "10b4dcf6cfd3a24f6059f7d541a4a872960b4adac0b3dba26abed1bb9a3d904d",
}

SPACE = """\
# NAS-Bench-Graph, {dataset} ({rows:,} gene combinations of {networks:,} distinct networks;
# github.com/THUMNLab/NAS-Bench-Graph, Apache-2.0), converted by benchmarks/convert_nas_bench_graph.py.
# error = 1 - mean validation performance of three trainings; latency in seconds; params in millions.
name: nas-bench-graph-{dataset}
seed: 0
genes:
  link: [{links}]
{genes}
table:
  path: nas_bench_graph_{dataset}.csv
objectives: [error, latency, params]
evaluation:
  evaluator: table
engine:
  name: pymoo
  algorithm: nsga2
  pop_size: 10
  evaluations: 100
"""


def link_name(link) -> str:
    return "L" + "".join(map(str, link))


def load_architecture(checkout: Path):
    path = checkout / "nas-bench-graph" / "architecture.py"
    if not path.is_file():
        raise SystemExit(f"{path} not found; give the folder of a clone of github.com/THUMNLab/NAS-Bench-Graph")
    spec = importlib.util.spec_from_file_location("nas_bench_graph_architecture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def convert(checkout: Path, dataset: str, out: Path, arch) -> None:
    if dataset not in SHA256:
        raise SystemExit(f"unknown dataset '{dataset}'; choose from {', '.join(SHA256)}")
    path = checkout / "nas-bench-graph" / "light" / f"{dataset}.bench"
    if not path.is_file():
        raise SystemExit(f"{path} not found; give the folder of a clone of github.com/THUMNLab/NAS-Bench-Graph")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[dataset]:  # never unpickle a file other than the published one
        raise SystemExit(f"{path.name}: sha256 {digest} differs from the published file's {SHA256[dataset]}")
    bench = pickle.loads(raw)
    ops = OPS_PROTEINS if dataset == "proteins" else OPS
    folder = out / dataset
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# NAS-Bench-Graph, {dataset}: https://github.com/THUMNLab/NAS-Bench-Graph (Apache License 2.0)",
        f"# converted from nas-bench-graph/light/{dataset}.bench (sha256 {digest})",
        "# by benchmarks/convert_nas_bench_graph.py",
        "# link: the wiring (each computing node's input, 0 = the graph's features); op1..op4: each node's operation;",
        "# error = 1 - mean validation performance; test_error likewise on the test split; latency (s), params (M)",
        ",".join(["link", "op1", "op2", "op3", "op4", "error", "test_error", "latency", "params"]),
    ]
    header = len(lines)
    used = set()
    for link, combo in itertools.product(LINKS, itertools.product(ops, repeat=4)):
        try:
            key = arch.Arch(list(link), list(combo)).valid_hash()
        except Exception:  # a combination the benchmark's canonical form does not cover: not in the table
            continue
        r = bench.get(key)
        if r is None:
            continue
        used.add(key)
        results = [f"{1 - float(r['valid_perf']):.6f}", f"{1 - float(r['perf']):.6f}", f"{float(r['latency']):.6g}",
                   f"{float(r['para']):.6g}"]
        lines.append(",".join([link_name(link), *combo, *results]))
    csv = folder / f"nas_bench_graph_{dataset}.csv"
    csv.write_text("\n".join(lines) + "\n")
    genes = "\n".join(f"  op{i}: [{', '.join(ops)}]" for i in range(1, 5))
    space = SPACE.format(dataset=dataset, rows=len(lines) - header, networks=len(used),
                         links=", ".join(link_name(k) for k in LINKS), genes=genes)
    (folder / f"nas_bench_graph_{dataset}.yaml").write_text(space)
    print(f"wrote {csv} ({len(lines) - header} gene combinations, {len(used)} of {len(bench)} networks)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path, help="a clone of github.com/THUMNLab/NAS-Bench-Graph")
    ap.add_argument("--datasets", default="cora,arxiv,proteins", help="comma-separated, of the nine")
    ap.add_argument("--out", type=Path, default=None, help="folder to write into (default: the checkout)")
    args = ap.parse_args()
    arch = load_architecture(args.checkout)
    for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        convert(args.checkout, dataset, args.out or args.checkout, arch)


if __name__ == "__main__":
    main()
