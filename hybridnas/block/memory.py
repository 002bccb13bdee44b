"""How much memory the supernet search needs, before it starts, and what to do when it won't fit.

The estimate runs one forward pass of the strategy's loss at a batch of two under
``torch.autograd.graph.saved_tensors_hooks`` and sums the storage of every tensor autograd keeps
for the backward pass: the activations, which dominate and grow linearly with the batch. To
that it adds the weights, their gradients and the optimiser state. It does not count the
framework's fixed overhead (allocator pools, oneDNN/cuDNN workspaces), which is why the estimate
is poor for tiny batches; ``benchmarks/enhanced_vs_darts.py`` prints it next to the measured
peak for the default space.

:func:`fit_batch_size` halves the batch until the estimate fits the memory available (GPU: free
memory; CPU: ``MemAvailable``; or ``block.memory_limit_gb``), and refuses with a clear error
when even a batch of 8 does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from ..core.memory import available_bytes
from ..errors import UserError

MIN_BATCH = 8
HEADROOM = 0.8  # use at most this share of what is available


@dataclass(frozen=True)
class MemoryEstimate:
    batch_size: int
    activation_bytes_per_sample: float
    state_bytes: int  # weights + gradients + optimiser state

    def total(self, batch_size: Optional[int] = None) -> float:
        b = self.batch_size if batch_size is None else batch_size
        return self.activation_bytes_per_sample * b + self.state_bytes

    def describe(self, batch_size: Optional[int] = None) -> str:
        return f"{self.total(batch_size) / 2**20:.0f} MiB at batch {batch_size or self.batch_size}"


def _optimizer_multiplier(opt: torch.optim.Optimizer) -> int:
    """State tensors per parameter: SGD with momentum keeps one, Adam two."""
    if isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
        return 2
    momentum = opt.param_groups[0].get("momentum", 0) if opt.param_groups else 0
    return 1 if momentum else 0


def estimate(strategy, in_shape: Tuple[int, int, int], num_classes: int, batch_size: int) -> MemoryEstimate:
    """Measure saved activations of one forward at batch 2 and scale; add weights and state."""
    net = strategy.net
    device = next(net.parameters()).device
    probe = 2
    x = torch.zeros(probe, *in_shape, device=device)
    y = torch.zeros(probe, dtype=torch.long, device=device)
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[(s.device, s.data_ptr())] = s.nbytes()
        return t

    was_training = net.training
    state = {k: v.detach().clone() for k, v in net.state_dict().items() if "running" in k or "num_batches" in k}
    try:
        net.train()
        # a sampling strategy draws random numbers in its forward; the probe must not shift them
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss, _ = strategy.loss(x, y)
        del loss
    finally:
        net.load_state_dict(state, strict=False)  # the probe must not move BN statistics
        net.train(was_training)
    per_sample = sum(storages.values()) / probe
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    arch = sum(p.numel() * p.element_size() for p in net.arch_parameters())
    state_bytes = 2 * params  # weights + gradients
    state_bytes += (_optimizer_multiplier(strategy.w_opt) * (params - arch)
                    + _optimizer_multiplier(strategy.a_opt) * arch)
    return MemoryEstimate(batch_size, per_sample, int(state_bytes))


def fit_batch_size(est: MemoryEstimate, device, limit_gb: Optional[float] = None) -> Tuple[int, Optional[str]]:
    """The largest batch (the configured one, halved as needed) whose estimate fits.

    Returns ``(batch_size, note)``; ``note`` says what was reduced, or is None.
    """
    avail = available_bytes(device, limit_gb)
    if avail is None:
        return est.batch_size, None
    budget = avail * (1.0 if limit_gb is not None else HEADROOM)
    b = est.batch_size
    while b > MIN_BATCH and est.total(b) > budget:
        b //= 2
    b = max(b, min(MIN_BATCH, est.batch_size))
    if est.total(b) > budget:
        raise UserError(
            f"the supernet needs about {est.describe(b)} but only {budget / 2**30:.2f} GiB is available on {device}; "
            "lower block.width, block.cells, cell.nodes or the number of cell.ops"
            + ("" if limit_gb is None else ", or raise block.memory_limit_gb")
        )
    if b != est.batch_size:
        return b, (
            f"block stage: the supernet needs about {est.describe()} and {budget / 2**30:.2f} GiB is available; "
            f"batch reduced to {b} ({est.describe(b)})"
        )
    return b, None
