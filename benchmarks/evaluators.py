"""Evaluations per minute of the evaluators, measured side by side in one run.

CPU: the local pool and Ray, each with 1 and 2 workers (their defaults: one worker gets every
core, two workers one share each), and the speedup of 2 workers over 1.
GPU (when CUDA is visible): 1, 2, 4 and 8 concurrent candidates on one GPU (``cuda:0``) with
the local pool (and Ray, fractional GPU shares, with ``--gpu-backends local,ray``), with the GPU's
mean utilisation and peak memory sampled through NVML while the candidates train.

Every configuration trains the same candidates: random networks of the space (``--space``,
default spaces/digits.yaml) over a fixed library of random cells of the space's operations,
built as the search builds them. Each configuration first trains ``workers`` warm-up candidates
(process start, imports, data transfer: reported as start-up) and then times the rest.

    python benchmarks/evaluators.py                                   # full scale: 24 candidates, 8 epochs
    python benchmarks/evaluators.py --candidates 6 --epochs 2         # a quick check
    python benchmarks/evaluators.py --skip-cpu --gpu-concurrency 1,2,4,8
    python benchmarks/evaluators.py --transfer-only                   # how a result comes back from a worker

First it times how a trained candidate's result (its weights and, for multi-fidelity, its
optimizer state) comes back from a pool worker: tensor by tensor against packed.
"""

import argparse
import contextlib
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hybridnas.config import load_config  # noqa: E402
from hybridnas.data import load_dataset  # noqa: E402
from hybridnas.device import resolve_device  # noqa: E402
from hybridnas.evaluate.base import build_evaluator  # noqa: E402
from hybridnas.network.scheduler import random_candidates  # noqa: E402
from hybridnas.space.genotype import BlockGenotype, CellGenotype  # noqa: E402


def random_block(rng, ops, nodes) -> BlockGenotype:
    def cell():
        return CellGenotype(tuple(
            tuple((str(rng.choice(ops)), int(j)) for j in rng.choice(i + 2, size=2, replace=False))
            for i in range(nodes)
        ))

    return BlockGenotype(cell(), cell())


class GpuSampler:
    """Mean utilisation and peak memory of one GPU, polled through NVML in a thread."""

    def __init__(self, index=0, period_s=0.1):
        import pynvml  # nvidia-ml-py

        pynvml.nvmlInit()
        self.nvml, self.handle, self.period = pynvml, pynvml.nvmlDeviceGetHandleByIndex(index), period_s
        self.util, self.mem, self._stop = [], [], threading.Event()

    def _loop(self):
        while not self._stop.is_set():
            self.util.append(self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)
            self.mem.append(self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used)
            time.sleep(self.period)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self):
        return {"gpu_util_%": statistics.mean(self.util) if self.util else float("nan"),
                "gpu_mem_GiB": max(self.mem) / 2**30 if self.mem else float("nan")}


def measure(args, blocks, overrides, warm, sample_gpu=False):
    cfg = load_config(args.space, [f"evaluation.epochs={args.epochs}", *args.overrides, *overrides])
    data = load_dataset(cfg.data, cfg.seed)
    device = resolve_device(cfg.device)
    cands = random_candidates(cfg, blocks, data, warm + args.candidates, seed=args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hnb") as tmp, \
            build_evaluator(cfg, data.to(device), device, workdir=tmp) as ev:
        ev.evaluate_batch(cands[:warm])
        startup = time.perf_counter() - t0
        sampler = GpuSampler(device.index or 0) if sample_gpu else contextlib.nullcontext()
        with sampler:
            t1 = time.perf_counter()
            results = ev.evaluate_batch(cands[warm:])
            seconds = time.perf_counter() - t1
    row = {
        "evals": len(results),
        "failed": sum(r["status"] != "ok" for r in results),
        "seconds": seconds,
        "evals_per_min": 60 * len(results) / seconds,
        "startup_s": startup,
        "threads": results[0].get("threads"),
    }
    if sample_gpu:
        row.update(sampler.summary())
    return row


def table(rows, keys):
    print("| " + " | ".join(keys) + " |")
    print("|" + "|".join("---:" for _ in keys) + "|")
    for r in rows:
        print("| " + " | ".join(f"{r[k]:.1f}" if isinstance(r[k], float) else str(r[k]) for k in keys) + " |")


def cpu_part(args, blocks):
    backends = [b for b in args.cpu_backends.split(",") if b]
    if "ray" in backends and importlib.util.find_spec("ray") is None:
        print("ray is not installed (pip install 'hybridnas[ray]'): measuring the local pool only")
        backends.remove("ray")
    rows = {}
    for rnd in range(args.rounds):  # rounds interleave the configurations against drifting load
        for backend in backends:
            for workers in (1, 2):
                ov = ["device=cpu", f"evaluation.evaluator={backend}", f"evaluation.workers={workers}"]
                r = measure(args, blocks, ov, warm=workers)
                rows.setdefault((backend, workers), []).append(r)
                print(f"  round {rnd + 1}: {backend} x{workers}: {r['evals_per_min']:.1f} evals/min", flush=True)
    out = []
    for (backend, workers), rs in rows.items():
        best = max(rs, key=lambda r: r["evals_per_min"])  # the least disturbed round
        out.append({"backend": backend, "workers": workers, **best})
    print(f"\nCPU ({torch.get_num_threads()} cores visible to torch), "
          f"{args.candidates} candidates x {args.epochs} epochs, "
          f"best of {args.rounds} round(s):")
    table(out, ["backend", "workers", "threads", "evals", "failed", "seconds", "evals_per_min", "startup_s"])
    by = {(r["backend"], r["workers"]): r["evals_per_min"] for r in out}
    for backend in backends:
        print(f"speedup {backend}, 2 workers over 1: {by[(backend, 2)] / by[(backend, 1)]:.2f}x")
    if len(backends) > 1:
        print(f"ray over local, 2 workers: {by[('ray', 2)] / by[('local', 2)]:.2f}x")


def gpu_part(args, blocks):
    if not torch.cuda.is_available():
        print("\nGPU: no CUDA device visible; GPU part not run")
        return
    levels = [int(v) for v in args.gpu_concurrency.split(",")]
    out = []
    for backend in [b for b in args.gpu_backends.split(",") if b]:
        for k in levels:
            ov = ["device=cuda:0", f"evaluation.evaluator={backend}", f"evaluation.workers={k}"]
            if backend == "ray":
                ov.append(f"evaluation.ray.gpus_per_task={1 / k}")
            r = measure(args, blocks, ov, warm=k, sample_gpu=True)
            print(f"  {backend} x{k} on one GPU: {r['evals_per_min']:.1f} evals/min, {r['gpu_util_%']:.0f} % busy",
                  flush=True)
            out.append({"backend": backend, "per_gpu": k, **r})
    print(f"\nGPU: {torch.cuda.get_device_name(0)}, {args.candidates} candidates x {args.epochs} epochs:")
    table(out, ["backend", "per_gpu", "evals", "failed", "seconds", "evals_per_min", "gpu_util_%", "gpu_mem_GiB",
                "startup_s"])
    for backend in {r["backend"] for r in out}:
        base = next(r for r in out if r["backend"] == backend and r["per_gpu"] == levels[0])["evals_per_min"]
        for r in out:
            if r["backend"] == backend:
                print(f"{backend}: {r['per_gpu']} per GPU = {r['evals_per_min'] / base:.2f}x of {levels[0]} per GPU")


_RESULT = {}


def _make_result(arch):
    """Worker initialiser: the result a trained candidate sends back (weights, optimizer state)."""
    import torch as t

    from hybridnas.space.builder import build_network
    from hybridnas.space.genome import ArchSpec
    from hybridnas.training import TrainSettings, make_optimizer

    model = build_network(ArchSpec.from_json(arch))
    opt = make_optimizer(model, TrainSettings(epochs=1))
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for p in model.parameters():  # a momentum buffer per parameter, as after a step
        opt.state[p]["momentum_buffer"] = t.zeros_like(p)
    _RESULT.update(status="ok", state=state, checkpoint={"model": state, "optimizer": opt.state_dict(), "epoch": 1})


def _send(packed: bool):
    from hybridnas.evaluate.packing import pack_result

    return pack_result(dict(_RESULT)) if packed else dict(_RESULT)


def _nothing(_packed: bool):
    return None


def transfer_part(args, blocks):
    """Milliseconds to get one result (weights + optimizer state) back from a pool worker: the
    tensors one by one (each a shared-memory file) against packed (one flat tensor per dtype)."""
    from concurrent.futures import ProcessPoolExecutor

    import torch.multiprocessing as tmp

    from hybridnas.evaluate.packing import unpack_result

    cfg = load_config(args.space, args.overrides)
    data = load_dataset(cfg.data, cfg.seed)
    cand = random_candidates(cfg, blocks, data, 1, seed=args.seed)[0]
    n = args.transfers
    with ProcessPoolExecutor(1, mp_context=tmp.get_context("spawn"), initializer=_make_result,
                             initargs=(cand.arch,)) as pool:
        pool.submit(_nothing, False).result()
        pool.submit(_send, False).result()  # warm both paths
        times = {}
        for what in ("nothing", "tensors", "packed", "tensors", "packed"):
            fn, arg = (_nothing, False) if what == "nothing" else (_send, what == "packed")
            t0 = time.perf_counter()
            for _ in range(n):
                r = pool.submit(fn, arg).result()
                if what != "nothing":
                    r = unpack_result(r)
            times.setdefault(what, []).append((time.perf_counter() - t0) / n * 1000)
    tensors = len(_count(r))
    base = min(times["nothing"])
    print(f"\nresult transfer from a pool worker ({tensors} tensors: weights + optimizer state; {n} round trips each): "
          f"one by one {min(times['tensors']) - base:.1f} ms, packed {min(times['packed']) - base:.1f} ms per result "
          f"(round trip of an empty task, {base:.1f} ms, subtracted)")


def _count(result):
    out = []

    def walk(o):
        if isinstance(o, torch.Tensor):
            out.append(o)
        elif isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    walk({"state": result["state"], "checkpoint": result["checkpoint"]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="digits")
    ap.add_argument("--candidates", type=int, default=24, help="timed candidates per configuration")
    ap.add_argument("--epochs", type=int, default=8,
                    help="proxy epochs per candidate (8: the table in docs/benchmarks.md)")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the CPU configurations, keep each one's best")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu-backends", default="local,ray")
    ap.add_argument("--gpu-backends", default="local")
    ap.add_argument("--gpu-concurrency", default="1,2,4,8")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--transfers", type=int, default=50, help="round trips per way of returning a result")
    ap.add_argument("--transfer-only", action="store_true", help="only measure how a result comes back")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config overrides")
    args = ap.parse_args()
    cfg = load_config(args.space, args.overrides)
    rng = np.random.default_rng(args.seed)
    ops = [op for op in cfg.cell.ops if op != "none"]
    blocks = [random_block(rng, ops, cfg.cell.nodes) for _ in range(3)]
    transfer_part(args, blocks)
    if args.transfer_only:
        return
    if not args.skip_cpu:
        cpu_part(args, blocks)
    gpu_part(args, blocks)


if __name__ == "__main__":
    main()
