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
estimate changes nothing the search draws. Each step is timed three times: the estimate is a
range, from every step at its fastest timing to every step at its slowest times the machine's
load (:func:`load_factor`: runnable processes per core; a step timed in a burst may get a core
that a long run shares), with the median's total as its point. Once the block stage is done,
the network stage is estimated again with the derived blocks, its upper end raised to the
point estimate times the pace the block stage kept (its measured time over its estimate); the
network search's progress bar then shows the time left at the pace of the generations done. What
it still ignores: overheads outside the timed steps (building networks, writing the run
store), which dominate tiny runs. The numbers go to ``summary.json`` beside the measured stage
times.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .config import RunConfig
from .store.layout import BLOCKS, GENERATION_FILES, GENERATIONS


@dataclass(frozen=True)
class Estimate:
    block_s: Optional[float]  # None: nothing left to do in this stage
    network_s: Optional[float]
    detail: Dict[str, Any]
    # the range: every step at its fastest timing, and at its slowest times the machine's load
    block_range: Optional[Tuple[float, float]] = None
    network_range: Optional[Tuple[float, float]] = None

    @property
    def total_s(self) -> float:
        return (self.block_s or 0.0) + (self.network_s or 0.0)

    @property
    def total_range(self) -> Tuple[float, float]:
        lo = sum(r[0] for r in (self.block_range, self.network_range) if r)
        hi = sum(r[1] for r in (self.block_range, self.network_range) if r)
        return lo, hi

    def to_json(self) -> Dict[str, Any]:
        return {"block_stage_s": self.block_s, "network_stage_s": self.network_s, "total_s": self.total_s,
                "block_stage_range_s": list(self.block_range) if self.block_range else None,
                "network_stage_range_s": list(self.network_range) if self.network_range else None,
                "total_range_s": list(self.total_range), **self.detail}


def _timed(fn: Callable[[], Any], repeats: int = 3) -> Tuple[float, float, float]:
    """Fastest, median and slowest seconds of ``fn`` over ``repeats`` calls after one untimed call
    (first calls allocate and warm caches); the spread is what a busy machine does to a step."""
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
    return min(times), statistics.median(times), max(times)


def load_factor() -> float:
    """How many runnable processes share each core (1-minute load average over the cores), at
    least 1: a step timed in a burst can get a whole core that a long run shares."""
    import os

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return 1.0
    return max(1.0, load / max(os.cpu_count() or 1, 1))


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


def block_stage(cfg: RunConfig, shape, n_train: int, device) -> Dict[str, Any]:
    """Seconds the block stage will take (``shape``: in_chans, num_classes, image_size)."""
    from .block.stage import build_supernet
    from .block.strategies.base import build_strategy, member_options

    b = cfg.block
    in_chans, num_classes, size = shape
    batch = b.batch_size
    steps = max(1, (n_train // 2) // batch)
    net = build_supernet(cfg, _shaped(shape), device)  # as the block stage builds it (memory format too)
    first = dict(b.library[0]) if b.library else {}
    options = member_options(b.strategy.options, first)
    strategy = build_strategy(b.strategy.name, net, b, options)
    x, y = _batch(batch, in_chans, size, num_classes, device)
    warm = _timed(lambda: strategy.warmup_step((x, y))) if b.warmup_epochs else (0.0, 0.0, 0.0)
    strategy.begin_search(b.warmup_epochs, b.epochs, steps)
    strategy.begin_epoch(b.warmup_epochs, b.warmup_epochs + b.epochs)
    search = _timed(lambda: strategy.step((x, y), (x, y)))
    epochs = b.epochs * len(b.library)
    low, seconds, high = (steps * (b.warmup_epochs * w + epochs * s) for w, s in zip(warm, search))
    return {"block_stage_s": seconds, "block_stage_range_s": [low, high * load_factor()],
            "block_steps_per_epoch": steps, "warmup_step_s": warm[1], "search_step_s": search[1],
            "search_epochs": epochs}


def stand_in_blocks(cfg: RunConfig, in_chans: int, size) -> List:
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


def _epochs_per_candidate(cfg: RunConfig) -> float:
    """Epochs a candidate trains on average: successive halving continues the promoted ones."""
    e = cfg.evaluation
    steps = list(e.fidelity.budgets) + [e.epochs]
    total, share, done = 0.0, 1.0, 0
    for k, b in enumerate(steps):
        total += share * (b - done)
        done = b
        share *= e.fidelity.promote if k + 1 < len(steps) else 1.0
    return total


def network_stage(cfg: RunConfig, blocks: Sequence, shape, sizes: Dict[str, int], device, generations_done: int = 0,
                  sample: int = 256) -> Dict[str, Any]:
    """Seconds the network stage will take over ``blocks`` (library entries or genotypes);
    ``sizes``: images in the train, val and test splits; ``generations_done``: generations a
    resumed run has finished."""
    import torch

    from .device import Accel, candidate_threads, cpu_share, derive_seed, evaluation_devices, torch_threads
    from .network.points import NetworkPoints
    from .space.builder import build_network
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
    k = max(1, e.folds)  # k-fold: k trainings on (k-1)/k of train + val, each validating the rest
    pool = sizes["train"] + sizes.get("val", 0)
    trained, validated = (sizes["train"], sizes.get("val", 0)) if k == 1 else (pool * (k - 1) / k, pool / k)
    steps_per_epoch = -(-int(trained) // e.batch_size)
    eval_steps = (validated + sizes.get("test", 0)) / e.batch_size / 3  # a forward is ~1/3 of a step

    def candidate(cheapest: float, costliest: float) -> float:
        slope = (costliest - cheapest) / (f1 - f0) if f1 > f0 else 0.0
        mean_step = cheapest + slope * (float(flops.mean()) - f0)
        return mean_step * k * (steps_per_epoch * _epochs_per_candidate(cfg) + eval_steps)

    low, candidate_s, high = (candidate(a, b) for a, b in zip(step_s[0], step_s[1]))
    left = cfg.engine.pop_size * max(cfg.engine.generations - generations_done, 0)
    return {"network_stage_s": candidate_s * left / workers,
            "network_stage_range_s": [low * left / workers, high * left / workers * load_factor()],
            "networks_at_most": left, "candidate_s": candidate_s,
            "workers": workers, "step_s_cheapest": step_s[0][1], "step_s_costliest": step_s[1][1],
            "flops_mean": float(flops.mean())}


# ------------------------------------------------------------------------------ the search


def estimate(cfg: RunConfig, data, store, device, library: Optional[Sequence] = None) -> Optional[Estimate]:
    """What is left of the search in ``store``, estimated; ``None`` for a tabular space
    (lookups take no time). ``library``: the derived blocks, once the block stage is done."""
    import torch

    if cfg.tabular:
        return None
    shape = (data.in_chans, data.num_classes, tuple(data.image_size))
    sizes = {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
    done = len(list(store.path(GENERATIONS).glob(GENERATION_FILES)))
    with torch.random.fork_rng(devices=[]):
        block = None
        if library is None and not store.exists(BLOCKS):
            block = block_stage(cfg, shape, sizes["train"], device)
        net = None
        if done < cfg.engine.generations:
            if library is None and store.exists(BLOCKS):  # a resumed run: its library
                from .space.library import load_library

                library = load_library(store)
            blocks = library if library is not None else stand_in_blocks(cfg, data.in_chans, data.image_size)
            net = network_stage(cfg, blocks, shape, sizes, device, generations_done=done)
    detail = {**(block or {}), **(net or {}), "library": "derived" if library is not None else "stand-in",
              "load_factor": load_factor()}
    for key in ("block_stage_s", "network_stage_s", "block_stage_range_s", "network_stage_range_s"):
        detail.pop(key, None)
    return Estimate(block["block_stage_s"] if block else None, net["network_stage_s"] if net else None, detail,
                    tuple(block["block_stage_range_s"]) if block else None,
                    tuple(net["network_stage_range_s"]) if net else None)


def describe(est: Estimate, again: bool = False, pace: Optional[float] = None) -> str:
    """One line for the progress output (``again``: the network stage's, once the library is
    known; ``pace``: how many times its estimate the block stage took, which widens the range)."""
    d = est.detail
    parts = []
    if est.block_s is not None:
        parts.append(f"block stage {format_range(est.block_range)} ({d['search_epochs']} search epochs of "
                     f"{d['block_steps_per_epoch']} steps, {d['search_step_s']:.2f} s each)")
    if est.network_s is not None:
        span = est.network_range
        if pace is not None and span is not None:
            span = (span[0], max(span[1], est.network_s * pace))
        parts.append(f"network stage {format_range(span)} (at most {d['networks_at_most']} networks, "
                     f"~{_seconds(d['candidate_s'])} each, {d['workers']} at a time"
                     + (f"; the block stage took {pace:.1f}x its estimate" if pace is not None else "") + ")")
    which = "" if d["library"] == "derived" or est.network_s is None else \
        "; network costs from stand-in blocks until the library is known"
    load = f"; load {d['load_factor']:.1f} processes per core" if d.get("load_factor", 1.0) > 1.0 else ""
    head = "estimate with the derived blocks" if again else f"estimate: {format_range(est.total_range)}"
    return f"{head}: " + "; ".join(parts) + which + load


def format_range(r: Optional[Tuple[float, float]]) -> str:
    """``4-9 min``, ``20-45 s``: a range of seconds in one unit (``-`` for none)."""
    if r is None:
        return "-"
    lo, hi = r
    if hi >= 90 and lo < 30:  # seconds to minutes: each end in its own unit
        return f"{_seconds(lo)} - {hi / 60:.0f} min"
    if hi >= 90:
        a, b = lo / 60, hi / 60
        return f"{a:.0f}-{b:.0f} min" if round(a) != round(b) else f"~{b:.0f} min"
    a, b = _seconds(lo), _seconds(hi)
    return f"{a[:-2]}-{b}" if a != b else f"~{b}"


def pace_of(estimated: Optional[Dict[str, Any]], block_seconds: float) -> Optional[float]:
    """How many times its estimate the block stage took (``None`` without an estimate of it)."""
    if not estimated or not estimated.get("block_stage_s"):
        return None
    return block_seconds / estimated["block_stage_s"]


def _minutes(s: float) -> str:
    return f"{s / 60:.0f} min" if s >= 90 else _seconds(s)


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
