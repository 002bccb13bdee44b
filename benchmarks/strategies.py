"""Every block strategy on digits, same budget, several seeds: what each costs and what it finds.

    python benchmarks/strategies.py                      # all strategies, seeds 0 1 2, digits budget
    python benchmarks/strategies.py --seeds 0 --epochs 2 --warmup 1 --train-epochs 3   # quick check
    python benchmarks/strategies.py --strategies gdas "egs[samples=1]" ddpnas

Each (strategy, seed) runs in a fresh subprocess, so its peak memory is its own: the block stage
of ``spaces/digits.yaml`` (shared warm-up, then the bilevel search, one library member with the
strategy's default options) in a temporary run directory, then

* search seconds per epoch (mean over the search epochs, warm-up excluded);
* peak memory: the process's maximum resident set (``getrusage``; torch and the data included -
  the ``baseline`` row is a process that loads them and builds the supernet without training),
  or on a GPU ``torch.cuda.max_memory_allocated``;
* the derived block's cost at ``block.reference_width``: one normal cell's params and FLOPs
  (= 2 x MACs), as ``blocks.json`` reports them;
* stand-alone accuracy: the reference network of the block (``reference_genome``: the
  supernet's layout built from the block alone) trained from scratch by ``training.fit`` for
  ``--train-epochs`` with the space's evaluation settings; test accuracy (val in brackets);
* for single-path strategies (gdas, egs with samples=1, ddpnas): the wall time of the strategy's
  weight step against the training step of the discrete network it sampled, timed side by side
  in the same process on the same batches, interleaved, over ``--step-samples`` sampled
  architectures (the supernet is pinned to each sample, its sampling still run every step);
* once, for DARTS on the default supernet: the architecture step's gradient as the strategies
  take it (``torch.autograd.grad`` of the validation loss for alpha alone) against
  ``backward()`` into every weight (what the step did before), interleaved on the same batches,
  and the whole bilevel step (architecture gradient + weight step) both ways.

Timings on a shared machine are noisy: compare ratios measured in one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ["darts", "enhanced", "gdas", "egs", "egs[samples=1]", "ddpnas", "cdarts", "shrink"]


def parse_spec(spec: str):
    """``egs[samples=1]`` -> ("egs", {"samples": 1})."""
    import yaml

    if "[" not in spec:
        return spec, {}
    name, rest = spec.split("[", 1)
    opts = {}
    for item in rest.rstrip("]").split(","):
        k, v = item.split("=", 1)
        opts[k.strip()] = yaml.safe_load(v)
    return name, opts


# ------------------------------------------------------------------ worker (one subprocess)


def _peak_memory_mb(device) -> float:
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _config(args, name, opts, seed):
    from hybridnas.config import load_config

    over = [
        f"block.strategy.name={name}",
        "block.library=[{}]",
        f"seed={seed}",
        f"device={args.device}",
    ]
    if args.epochs is not None:
        over.append(f"block.epochs={args.epochs}")
    if args.warmup is not None:
        over.append(f"block.warmup_epochs={args.warmup}")
    if args.threads:
        over.append(f"threads={args.threads}")
    over += [f"block.strategy.{k}={json.dumps(v)}" for k, v in opts.items()]
    over += args.overrides
    return load_config(args.space, over)


def _sampled_genotype(strategy):
    """The architecture the strategy would compute next, as a block (one input per active op)."""
    from hybridnas.block.supernet import KINDS
    from hybridnas.space.genotype import BlockGenotype, CellGenotype, edge_index, node_edges

    net = strategy.net
    edges = node_edges(net.nodes)
    index = edge_index(net.nodes)
    cells = {}
    for kind in KINDS:
        cw = strategy.cell_weights(kind)
        nodes = []
        for _, positions in sorted(edges.items()):
            nodes.append(tuple((net.op_names[o], index[e][1]) for e in positions for o in cw.active[e]))
        cells[kind] = CellGenotype(tuple(nodes))
    return BlockGenotype(cells["normal"], cells["reduce"])


def step_cost(cfg, data, device, reps: int, samples: int):
    """Median seconds of a strategy weight step pinned to a sample, and of the sampled discrete
    network's training step, interleaved; returns (supernet s, discrete s)."""
    import torch
    import torch.nn.functional as F

    from hybridnas.block.stage import build_supernet
    from hybridnas.block.strategies.base import build_strategy
    from hybridnas.data import batches
    from hybridnas.space.builder import build_network
    from hybridnas.space.library import reference_spec

    b = cfg.block
    net = build_supernet(cfg, data, device)
    strategy = build_strategy(b.strategy.name, net, b, dict(b.strategy.options))
    strategy.begin_search(0, 1, 1)
    strategy.begin_epoch(0, 1)
    g = torch.Generator().manual_seed(0)
    pool = [(x, y) for x, y in batches(data.train, b.batch_size, shuffle=True, generator=g, drop_last=True)]
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    t_super, t_disc = [], []
    for s in range(samples):
        gen = getattr(strategy, "gen", None)
        state = gen.get_state() if gen is not None else None
        genotype = _sampled_genotype(strategy)  # ddpnas keeps this sub-net; gdas/egs: rewind below
        spec = reference_spec(genotype, b.cells, b.width, net.nodes, data.in_chans, data.num_classes, data.image_size)
        disc = build_network(spec).to(device)
        opt = torch.optim.SGD(disc.parameters(), lr=b.lr, momentum=b.momentum, weight_decay=b.weight_decay)

        def disc_step(x, y):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(disc(x), y)
            loss.backward()
            if b.grad_clip:
                torch.nn.utils.clip_grad_norm_(disc.parameters(), b.grad_clip)
            opt.step()

        def super_step(x, y):
            if state is not None:
                gen.set_state(state)  # the same sample again; the sampling itself still runs
            strategy.weight_step((x, y))

        for i in range(reps + 1):  # the first pair warms both up and is not timed
            x, y = pool[(s * (reps + 1) + i) % len(pool)]
            for fn, out in (((super_step, t_super), (disc_step, t_disc)) if i % 2 == 0
                            else ((disc_step, t_disc), (super_step, t_super))):
                sync()
                t0 = time.perf_counter()
                fn(x, y)
                sync()
                if i:
                    out.append(time.perf_counter() - t0)
        if hasattr(strategy, "choice"):  # ddpnas: its next sub-net (gdas/egs moved on by one draw)
            strategy.choice = None
    return statistics.median(t_super), statistics.median(t_disc)


def arch_step_cost(cfg, data, device, reps: int):
    """Median seconds of the DARTS architecture gradient both ways, and of the bilevel step both
    ways; returns (backward s, alpha-only s, bilevel with backward s, bilevel alpha-only s)."""
    import torch

    from hybridnas.block.stage import build_supernet
    from hybridnas.block.strategies.base import build_strategy
    from hybridnas.data import batches

    b = cfg.block
    net = build_supernet(cfg, data, device)
    strategy = build_strategy("darts", net, b, {})
    strategy.begin_epoch(0, 1)
    alphas = net.arch_parameters()
    g = torch.Generator().manual_seed(0)
    pool = [(x, y) for x, y in batches(data.train, b.batch_size, shuffle=True, generator=g, drop_last=True)]
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)

    def everything(val):  # the former step: gradients of every weight, thrown away
        strategy.a_opt.zero_grad(set_to_none=True)
        strategy.arch_objective(*val).backward()
        strategy.w_opt.zero_grad(set_to_none=True)

    def alpha_only(val):
        torch.autograd.grad(strategy.arch_objective(*val), alphas)

    times = {k: [] for k in ("all", "alpha", "bilevel_all", "bilevel_alpha")}
    for i in range(reps + 1):  # the first round warms up and is not timed
        train, val = pool[(2 * i) % len(pool)], pool[(2 * i + 1) % len(pool)]
        order = [("all", everything, False), ("alpha", alpha_only, False),
                 ("bilevel_all", everything, True), ("bilevel_alpha", alpha_only, True)]
        for key, fn, bilevel in (order if i % 2 == 0 else order[::-1]):
            sync()
            t0 = time.perf_counter()
            fn(val)
            if bilevel:
                strategy.weight_step(train)
            sync()
            if i:
                times[key].append(time.perf_counter() - t0)
    return tuple(statistics.median(times[k]) for k in ("all", "alpha", "bilevel_all", "bilevel_alpha"))


def worker(args) -> dict:
    import torch

    from hybridnas.block.stage import BlockStage, alpha_history, build_supernet
    from hybridnas.data import load_dataset
    from hybridnas.device import configure, resolve_device, seed_everything
    from hybridnas.space.builder import build_network
    from hybridnas.space.library import reference_spec
    from hybridnas.store import RunStore
    from hybridnas.training import TrainSettings, fit

    name, opts = parse_spec(args.strategy)
    cfg = _config(args, name, opts, args.seed)
    device = resolve_device(cfg.device)
    configure(device, cfg.deterministic, cfg.threads)
    seed_everything(cfg.seed)
    data = load_dataset(cfg.data, cfg.seed).to(device)
    out = {"strategy": args.strategy, "seed": args.seed, "device": str(device), "threads": torch.get_num_threads()}
    if args.arch_step:
        keys = ("arch_all_s", "arch_alpha_s", "bilevel_all_s", "bilevel_alpha_s")
        out.update(zip(keys, arch_step_cost(cfg, data, device, args.arch_reps)))
        return out
    if args.baseline:
        build_supernet(cfg, data, device)
        out["peak_mb"] = _peak_memory_mb(device)
        return out
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run")
        t0 = time.perf_counter()
        [entry] = BlockStage(cfg, data, store, device).run()
        out["stage_s"] = time.perf_counter() - t0
        epochs = alpha_history(store)
        out["epoch_s"] = statistics.mean(r["seconds"] for r in epochs)
        out["epochs_run"] = len(epochs)
    out["peak_mb"] = _peak_memory_mb(device)
    out["genotype"] = entry.genotype.to_string()
    out["cell_params"], out["cell_flops"] = entry.cell_params, 2 * entry.cell_macs
    out["net_params"], out["net_flops"] = entry.net_params, 2 * entry.net_macs
    b = cfg.block
    seed_everything(cfg.seed)
    model = build_network(
        reference_spec(entry.genotype, b.cells, b.reference_width, cfg.cell.nodes, data.in_chans, data.num_classes,
                       data.image_size)
    ).to(device)
    settings = TrainSettings.from_eval(cfg.evaluation, augment=cfg.data.augment, epochs=args.train_epochs)
    m = fit(model, data, settings, cfg.seed, eval_splits=("val", "test"))
    out["val_acc"], out["test_acc"], out["train_s"] = m["val_acc"], m["test_acc"], m["seconds"]
    single = name in ("gdas", "ddpnas") or (name == "egs" and int(opts.get("samples", 2)) == 1)
    if single:
        seed_everything(cfg.seed)
        t_super, t_disc = step_cost(cfg, data, device, args.step_reps, args.step_samples)
        out["step_super_ms"], out["step_disc_ms"] = 1000 * t_super, 1000 * t_disc
        out["step_ratio"] = t_super / t_disc
    return out


# ------------------------------------------------------------------ driver


def run_one(args, spec, seed, baseline=False, arch_step=False) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--strategy", spec, "--seed", str(seed), "--space", args.space,
           "--device", args.device, "--train-epochs", str(args.train_epochs),
           "--step-reps", str(args.step_reps), "--step-samples", str(args.step_samples),
           "--arch-reps", str(args.arch_reps)]
    for flag, v in (("--epochs", args.epochs), ("--warmup", args.warmup), ("--threads", args.threads)):
        if v is not None:
            cmd += [flag, str(v)]
    for o in args.overrides:
        cmd += ["--set", o]
    if baseline:
        cmd.append("--baseline")
    if arch_step:
        cmd.append("--arch-step")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"{spec} seed {seed} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _ms(vals, fmt="{:.2f}"):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt.format(vals[0])
    return f"{fmt.format(statistics.mean(vals))} ± {fmt.format(statistics.stdev(vals))}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--strategies", nargs="+", default=DEFAULT, help="names, options in brackets: egs[samples=1]")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--space", default="digits")
    ap.add_argument("--epochs", type=int, default=None, help="block.epochs (default: the space's)")
    ap.add_argument("--warmup", type=int, default=None, help="block.warmup_epochs (default: the space's)")
    ap.add_argument("--train-epochs", type=int, default=20, help="stand-alone training of the derived block")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's choice)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--step-reps", type=int, default=10, help="timed steps per sampled architecture")
    ap.add_argument("--step-samples", type=int, default=6, help="sampled architectures for the step cost")
    ap.add_argument("--arch-reps", type=int, default=20, help="timed rounds of the architecture-step comparison")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="space override key=value")
    ap.add_argument("--json", default=None, help="also write every run's record to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--arch-step", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--strategy", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    t0 = time.perf_counter()
    base = run_one(args, "darts", args.seeds[0], baseline=True)
    arch = run_one(args, "darts", args.seeds[0], arch_step=True)
    runs = {}
    for spec in args.strategies:
        for seed in args.seeds:
            r = run_one(args, spec, seed)
            runs.setdefault(spec, []).append(r)
            print(f"  {spec:<16} seed {seed}: {r['epoch_s']:.1f} s/epoch, test acc {r['test_acc']:.4f}, "
                  f"{r['cell_params']:,} cell params | {r['genotype']}", file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"baseline": base, "arch_step": arch, "runs": runs}, indent=2))

    first = next(iter(runs.values()))[0]
    unit = "GPU MiB (max allocated)" if first["device"].startswith("cuda") else "MiB (peak RSS)"
    print(f"digits block stage, {len(args.seeds)} seed(s) {args.seeds}; device {first['device']}, "
          f"{first['threads']} torch thread(s); {first['epochs_run']} search epochs after the warm-up; "
          f"stand-alone training {args.train_epochs} epochs; mean ± std over seeds")
    print(f"baseline memory (data + supernet, no training): {base['peak_mb']:.0f} {unit}")
    print()
    print(f"| strategy | s / epoch | peak {unit} | cell params | cell FLOPs | test acc (val) | step vs sampled net |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for spec, rs in runs.items():
        ratio = [r.get("step_ratio") for r in rs]
        step = "-" if ratio[0] is None else (
            f"{_ms(ratio)}x ({_ms([r['step_super_ms'] for r in rs], '{:.1f}')} / "
            f"{_ms([r['step_disc_ms'] for r in rs], '{:.1f}')} ms)"
        )
        print(
            f"| {spec} | {_ms([r['epoch_s'] for r in rs])} | {_ms([r['peak_mb'] for r in rs], '{:.0f}')} | "
            f"{_ms([r['cell_params'] for r in rs], '{:,.0f}')} | {_ms([r['cell_flops'] for r in rs], '{:,.0f}')} | "
            f"{_ms([r['test_acc'] for r in rs], '{:.4f}')} ({_ms([r['val_acc'] for r in rs], '{:.4f}')}) | {step} |"
        )
    print(f"\nDARTS architecture step on the default supernet (median of {args.arch_reps}, interleaved): gradient "
          f"of alpha alone {1000 * arch['arch_alpha_s']:.1f} ms against backward() into every weight "
          f"{1000 * arch['arch_all_s']:.1f} ms: {arch['arch_all_s'] / arch['arch_alpha_s']:.2f}x faster; whole bilevel "
          f"step {1000 * arch['bilevel_alpha_s']:.1f} against {1000 * arch['bilevel_all_s']:.1f} ms: "
          f"{arch['bilevel_all_s'] / arch['bilevel_alpha_s']:.2f}x")
    print(f"\n(wall time {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
