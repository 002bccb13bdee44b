"""How long a search will take, said before it starts: analytic FLOPs plus a few measured steps.

* **Block stage**: a throwaway supernet of the run's shape takes a few warm-up steps and a few
  search steps of the configured strategy on random batches of the run's batch size; their
  median times the steps the stage will run (warm-up epochs, then each library member's
  epochs, of ``min(halves) // batch`` steps each).
* **Network stage**: the time a training step takes is modelled as ``a + b x FLOPs`` of the
  network, fitted on the cheapest and the costliest of a random sample of the space's genomes,
  each timed for a few steps as a worker trains them (its threads, its batch size); evaluating
  the validation and test splits counts as a third of a training pass. The sample's mean gives
  one candidate's proxy training; the engine trains at most ``pop_size`` per generation (fewer
  when it meets a network twice), for the generations a resumed run has not finished,
  ``workers`` at a time.
  Before the block stage, the library is not known: two stand-in blocks take its place (every
  edge the median-cost convolution of ``cell.ops``; as many parameter-free ops as
  ``max_parameter_free`` allows and the cheapest convolution elsewhere). Once the library is
  derived the network stage is estimated again with it.

Everything is timed on the run's device with the global random state saved and restored, so an
estimate changes nothing the search draws. The estimate is a rough guide (it ignores what other
processes on the machine take, and assumes a run as long as its settings allow); the numbers go
to ``summary.json`` beside the measured stage times.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Estimate:
    block_s: Optional[float]  # None: nothing left to do in this stage
    network_s: Optional[float]
    detail: Dict[str, Any]

    @property
    def total_s(self) -> float:
        return (self.block_s or 0.0) + (self.network_s or 0.0)

    def to_json(self) -> Dict[str, Any]:
        return {"block_stage_s": self.block_s, "network_stage_s": self.network_s, "total_s": self.total_s, **self.detail}


def _timed(fn: Callable[[], Any], repeats: int = 2) -> float:
    """Median seconds of ``fn`` after one untimed call (first calls allocate and warm caches)."""
    import torch

    fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _shaped(shape):
    """What the builders read of a dataset (in_chans, num_classes, image_size), from ``shape``."""
    from types import SimpleNamespace

    in_chans, num_classes, size = shape
    return SimpleNamespace(in_chans=in_chans, num_classes=num_classes, image_size=tuple(size))


def _batch(n: int, in_chans: int, size, num_classes: int, device):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, in_chans, *size, generator=g).to(device)
    y = torch.randint(0, num_classes, (n,), generator=g).to(device)
    return x, y


# ------------------------------------------------------------------------------ block stage


def block_stage(cfg, shape, n_train: int, device) -> Dict[str, Any]:
    """Seconds the block stage will take (``shape``: in_chans, num_classes, image_size)."""
    from .block.stage import build_supernet
    from .block.strategies.base import build_strategy
    from .config import MEMBER_KEYS

    b = cfg.block
    in_chans, num_classes, size = shape
    batch = b.batch_size
    steps = max(1, (n_train // 2) // batch)
    net = build_supernet(cfg, _shaped(shape), device)  # as the block stage builds it (memory format too)
    first = dict(b.library[0]) if b.library else {}
    options = {**dict(b.strategy.options), **{k: v for k, v in first.items() if k not in MEMBER_KEYS}}
    strategy = build_strategy(b.strategy.name, net, b, options)
    x, y = _batch(batch, in_chans, size, num_classes, device)
    warm = _timed(lambda: strategy.warmup_step((x, y))) if b.warmup_epochs else 0.0
    strategy.begin_search(b.warmup_epochs, b.epochs, steps)
    strategy.begin_epoch(b.warmup_epochs, b.warmup_epochs + b.epochs)
    search = _timed(lambda: strategy.step((x, y), (x, y)))
    epochs = b.epochs * len(b.library)
    seconds = steps * (b.warmup_epochs * warm + epochs * search)
    return {"block_stage_s": seconds, "block_steps_per_epoch": steps, "warmup_step_s": warm,
            "search_step_s": search, "search_epochs": epochs}


def stand_in_blocks(cfg, in_chans: int, size) -> List:
    """Two blocks standing in for the library the block stage will derive (module docstring)."""
    from .space.genotype import BlockGenotype, CellGenotype
    from .space.ops import op_cost

    c = cfg.block.reference_width
    ops = [o for o in cfg.cell.ops if o != "none"] or list(cfg.cell.ops)
    macs = {o: op_cost(o, c, 1, *size)[1] for o in ops}
    free = [o for o in ops if op_cost(o, c, 1, *size)[0] == 0]
    paid = [o for o in ops if o not in free] or ops
    ranked = sorted(paid, key=lambda o: macs[o])
    rich, cheap_conv = ranked[len(ranked) // 2], ranked[0]  # a typical convolution; the cheapest one
    n = cfg.cell.nodes

    def cell(pick: Callable[[int], str]) -> CellGenotype:
        return CellGenotype(tuple(((pick(2 * i), 0), (pick(2 * i + 1), 1)) for i in range(n)))

    budget = cfg.block.max_parameter_free if free else 0
    cheap = cell(lambda e: free[e % len(free)] if e < budget else cheap_conv)
    costly = cell(lambda e: rich)
    return [BlockGenotype(costly, costly), BlockGenotype(cheap, cheap)]


# ------------------------------------------------------------------------------ network stage


def _epochs_per_candidate(cfg) -> float:
    """Epochs a candidate trains on average: successive halving continues the promoted ones."""
    e = cfg.evaluation
    steps = list(e.fidelity.budgets) + [e.epochs]
    total, share, done = 0.0, 1.0, 0
    for k, b in enumerate(steps):
        total += share * (b - done)
        done = b
        share *= e.fidelity.promote if k + 1 < len(steps) else 1.0
    return total


def network_stage(cfg, blocks: Sequence, shape, sizes: Dict[str, int], device, generations_done: int = 0,
                  sample: int = 256) -> Dict[str, Any]:
    """Seconds the network stage will take over ``blocks`` (library entries or genotypes);
    ``sizes``: images in the train, val and test splits; ``generations_done``: generations a
    resumed run has finished."""
    import torch

    from .device import Accel, candidate_threads, cpu_share, derive_seed, evaluation_devices
    from .evaluate.base import torch_threads
    from .network.builder import build_network
    from .network.points import NetworkPoints
    from .training import TrainSettings, make_optimizer

    in_chans, num_classes, size = shape
    e = cfg.evaluation
    points = NetworkPoints(cfg, blocks, _shaped(shape))
    rng = np.random.default_rng(derive_seed(cfg.seed, "estimate"))
    specs = [points.arch(x) for x in points.spec.sample(rng, sample)]
    flops = np.array([points.analytic(s)["flops"] for s in specs], dtype=float)
    lo, hi = specs[int(flops.argmin())], specs[int(flops.argmax())]
    workers = max(1, e.workers) * len(evaluation_devices(device))  # as the local evaluator spreads them
    threads = candidate_threads(cfg, cpu_share(e.workers)) if device.type == "cpu" else None
    settings = TrainSettings.from_eval(e)
    x, y = _batch(e.batch_size, in_chans, size, num_classes, device)
    step_s = []
    with torch_threads(threads):
        for spec in (lo, hi):
            model = build_network(spec).to(device)
            accel = Accel.for_model(model, settings.precision, settings.channels_last)  # as a worker trains
            accel.prepare(model)
            opt = make_optimizer(model, settings)
            xb, yb = accel.batch(x, y)

            def train_step():
                opt.zero_grad(set_to_none=True)
                with accel.autocast():
                    loss = torch.nn.functional.cross_entropy(model(xb), yb)
                accel.backward(loss)
                accel.step(opt)

            step_s.append(_timed(train_step))
    f0, f1 = float(flops.min()), float(flops.max())
    slope = (step_s[1] - step_s[0]) / (f1 - f0) if f1 > f0 else 0.0
    mean_step = step_s[0] + slope * (float(flops.mean()) - f0)
    k = max(1, e.folds)  # k-fold: k trainings on (k-1)/k of train + val, each validating the rest
    pool = sizes["train"] + sizes.get("val", 0)
    trained, validated = (sizes["train"], sizes.get("val", 0)) if k == 1 else (pool * (k - 1) / k, pool / k)
    steps_per_epoch = -(-int(trained) // e.batch_size)
    eval_steps = (validated + sizes.get("test", 0)) / e.batch_size / 3  # a forward is ~1/3 of a step
    candidate_s = mean_step * k * (steps_per_epoch * _epochs_per_candidate(cfg) + eval_steps)
    left = cfg.engine.pop_size * max(cfg.engine.generations - generations_done, 0)
    return {"network_stage_s": candidate_s * left / workers, "networks_at_most": left, "candidate_s": candidate_s,
            "workers": workers, "step_s_cheapest": step_s[0], "step_s_costliest": step_s[1],
            "flops_mean": float(flops.mean())}


# ------------------------------------------------------------------------------ the search


def estimate(cfg, data, store, device, library: Optional[Sequence] = None) -> Optional[Estimate]:
    """What is left of the search in ``store``, estimated; ``None`` for a tabular space
    (lookups take no time). ``library``: the derived blocks, once the block stage is done."""
    import torch

    if cfg.tabular:
        return None
    shape = (data.in_chans, data.num_classes, tuple(data.image_size))
    sizes = {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
    done = len(list(store.path("generations").glob("gen_*.json")))
    with torch.random.fork_rng(devices=[]):
        block = None
        if library is None and not store.exists("blocks.json"):
            block = block_stage(cfg, shape, sizes["train"], device)
        net = None
        if done < cfg.engine.generations:
            if library is None and store.exists("blocks.json"):  # a resumed run: its library
                from .block.library import load_library

                library = load_library(store)
            blocks = library if library is not None else stand_in_blocks(cfg, data.in_chans, data.image_size)
            net = network_stage(cfg, blocks, shape, sizes, device, generations_done=done)
    detail = {**(block or {}), **(net or {}), "library": "derived" if library is not None else "stand-in"}
    detail.pop("block_stage_s", None)
    detail.pop("network_stage_s", None)
    return Estimate(block["block_stage_s"] if block else None, net["network_stage_s"] if net else None, detail)


def describe(est: Estimate, again: bool = False) -> str:
    """One line for the progress output (``again``: the network stage's, once the library is known)."""
    d = est.detail
    parts = []
    if est.block_s is not None:
        parts.append(f"block stage ~{_minutes(est.block_s)} ({d['search_epochs']} search epochs of "
                     f"{d['block_steps_per_epoch']} steps, {d['search_step_s']:.2f} s each)")
    if est.network_s is not None:
        parts.append(f"network stage ~{_minutes(est.network_s)} (at most {d['networks_at_most']} networks, "
                     f"~{_seconds(d['candidate_s'])} each, {d['workers']} at a time)")
    which = "" if d["library"] == "derived" or est.network_s is None else \
        "; network costs from stand-in blocks until the library is known"
    head = "estimate with the derived blocks" if again else f"estimate: about {_minutes(est.total_s)}"
    return f"{head}: " + "; ".join(parts) + which


def _minutes(s: float) -> str:
    return f"{s / 60:.0f} min" if s >= 90 else _seconds(s)


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
