"""Latency of networks on the current device: timed per block, cached in the run, summed per genome.

:func:`time_call` is the one timing routine: warm-up calls, then ``repeats`` timed calls at a
fixed batch, the median kept; CUDA events on a GPU (the kernels' time, synchronised), and
``time.perf_counter`` on a CPU. :class:`LatencyTable` is a lookup table with one entry per
distinct component of the networks of a space - the stem at its width, each cell at its plan
(input channels and resolutions, width, reduction) with its genotype, and the head - measured
once, on first need, and kept in the run as ``latency_lut.json`` (written before any result that
depends on it, so a resumed search replays with the same numbers). A genome's latency is the sum
of its components' entries; ``benchmarks/latency_lut.py`` measures how well that sum predicts
the whole network's measured latency. Nothing here runs unless latency is an objective or a
constraint.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Tuple

from ..errors import UserError
from ..store.layout import LATENCY_LUT
from .genome import ArchSpec

if TYPE_CHECKING:
    from ..config import RunConfig


def time_call(fn: Callable[[], Any], device, warmup: int = 10, repeats: int = 30) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    import torch

    dev = torch.device(device)
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times: List[float] = []
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            for _ in range(repeats):
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        else:
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
    return float(statistics.median(times))


def device_name(device) -> str:
    """What the numbers were measured on: the GPU's name, or the CPU and torch's thread count."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu:{cpu}:{torch.get_num_threads()} threads"


def _components(spec: ArchSpec) -> List[Tuple[str, str, int]]:
    """``(key, kind, index)`` of every component: the stem, each cell (by its plan and genotype), the head."""
    from .cell import plan_cells

    cells = spec.cells()
    plans = plan_cells(spec.genome.stem, spec.image_size, [(c, red) for c, red, _ in cells], spec.nodes)
    h, w = spec.image_size
    out = [(f"stem|{spec.in_chans}x{h}x{w}->{spec.genome.stem}", "stem", 0)]
    for i, (plan, (_, _, genotype)) in enumerate(zip(plans, cells)):
        p = plan
        key = (f"cell|{p.c_pp}x{p.res_pp[0]}x{p.res_pp[1]},{p.c_p}x{p.res_p[0]}x{p.res_p[1]}->{p.c}"
               f"|red{int(p.reduction)}{int(p.reduction_prev)}|{genotype}")
        out.append((key, "cell", i))
    feats, res = (plans[-1].c_out, plans[-1].res_out) if plans else (spec.genome.stem, (h, w))
    out.append((f"head|{feats}x{res[0]}x{res[1]}->{spec.num_classes}", "head", 0))
    return out


class LatencyTable:
    """Per-component latencies (ms) on one device at one batch size, kept in the run store."""

    def __init__(self, store, device, batch_size: int = 1, warmup: int = 10, repeats: int = 30):
        self.store = store
        self.device = device
        self.batch_size = batch_size
        self.warmup = warmup
        self.repeats = repeats
        self.name = device_name(device)
        self.entries: Dict[str, float] = {}
        self.measured = 0  # components timed by this object (the rest came from the run)
        saved = store.read_json(LATENCY_LUT, default=None) if store is not None else None
        if saved is not None:
            if saved.get("device") != self.name or saved.get("batch_size") != batch_size:
                raise UserError(
                    f"the run's latency table was measured on '{saved.get('device')}' at batch "
                    f"{saved.get('batch_size')}, but this process measures on '{self.name}' at batch {batch_size}; "
                    "resume on the same device (and torch threads), or start a new run"
                )
            self.entries = {k: float(v) for k, v in saved["entries"].items()}

    @classmethod
    def from_config(cls, cfg: RunConfig, store, device) -> "LatencyTable":
        lat = cfg.latency
        return cls(store, device, lat.batch_size, lat.warmup, lat.repeats)

    def missing(self, specs: Iterable[ArchSpec]) -> List[ArchSpec]:
        return [s for s in specs if any(k not in self.entries for k, _, _ in _components(s))]

    def ensure(self, specs: Iterable[ArchSpec]) -> int:
        """Measure every component of ``specs`` not yet in the table; save the table if any was new."""
        new = 0
        for spec in self.missing(list(specs)):
            new += self._measure(spec)
        if new and self.store is not None:
            self.store.write_json(LATENCY_LUT, self.to_json())
        return new

    def predict(self, spec: ArchSpec) -> float:
        """The genome's latency (ms): the sum of its components' entries (measured if missing)."""
        comps = _components(spec)
        if any(k not in self.entries for k, _, _ in comps):
            self.ensure([spec])
        return float(sum(self.entries[k] for k, _, _ in comps))

    def _measure(self, spec: ArchSpec) -> int:
        import torch

        from .builder import build_network

        model = build_network(spec).to(self.device).eval()
        x = torch.randn(self.batch_size, spec.in_chans, *spec.image_size, device=self.device)
        new = 0
        with torch.inference_mode():
            states = [model.stem(x)]  # the inputs each component sees in the real forward pass
            s0 = s1 = states[0]
            inputs = {("stem", 0): (x,)}
            for i, cell in enumerate(model.cells):
                inputs[("cell", i)] = (s0, s1)
                s0, s1 = s1, cell(s0, s1)
            inputs[("head", 0)] = (s1,)
        fns = {"stem": lambda i: model.stem, "cell": lambda i: model.cells[i], "head": lambda i: model.forward_head}
        for key, kind, i in _components(spec):
            if key in self.entries:
                continue
            module, args = fns[kind](i), inputs[(kind, i)]
            self.entries[key] = time_call(lambda: module(*args), self.device, self.warmup, self.repeats)
            self.measured += 1
            new += 1
        return new

    def measure_network(self, spec: ArchSpec) -> float:
        """The whole network's latency (ms), timed as one call (what the table's sum predicts)."""
        import torch

        from .builder import build_network

        model = build_network(spec).to(self.device).eval()
        x = torch.randn(self.batch_size, spec.in_chans, *spec.image_size, device=self.device)
        return time_call(lambda: model(x), self.device, self.warmup, self.repeats)

    def to_json(self) -> Dict[str, Any]:
        return {
            "device": self.name,
            "batch_size": self.batch_size,
            "warmup": self.warmup,
            "repeats": self.repeats,
            "unit": "ms, median of repeats",
            "method": "CUDA events" if str(self.device).startswith("cuda") else "time.perf_counter",
            "entries": dict(sorted(self.entries.items())),
        }
