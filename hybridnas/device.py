"""Device choice, seeding and the speed/reproducibility switches, in one place.

- :func:`resolve_device` turns ``--device auto|cpu|cuda|cuda:N`` into a ``torch.device``;
  :func:`evaluation_devices` says which devices candidates train on (every visible GPU for
  ``cuda``/``auto``, one for ``cuda:N``).
- :func:`configure` applies a process's switches: torch threads, cuDNN autotuning and TF32 for
  speed, or deterministic kernels for reproducibility. Every process that trains calls it (the
  search itself, each pool worker, each Ray task).
- The thread policy: :func:`process_threads` (a process that trains alone: the block stage,
  ``hybridnas train``) and :func:`candidate_threads` (each of several workers, the same rule for
  every evaluator, so a candidate's result does not depend on which backend ran it). One thread
  per process unless ``threads`` asks for more, and never more than the process's share of the
  cores; :func:`passive_wait` makes idle OpenMP threads sleep instead of spinning.
- Torch's thread count is set here only: :func:`set_threads` (a process's count for its life:
  :func:`configure` calls it), :func:`restore_threads` (give a caller its count back) and
  :func:`torch_threads` (a block of work with its own count, restored after it).
- :class:`Accel` is one training's mixed precision (autocast, plus a GradScaler for fp16), memory
  format (channels-last) and host-to-device batch transfer (pinned memory).
- :func:`fits_on_device` decides whether a dataset stays resident on a GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import sys
from typing import List, Optional, Tuple

from .errors import UserError


def resolve_device(name: str = "auto"):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device '{name}' was asked for but no CUDA GPU is visible; use --device cpu or auto")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise UserError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(
                f"device '{name}' does not exist: {torch.cuda.device_count()} GPU(s) are visible; "
                f"use cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
        return dev
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")


def evaluation_devices(device) -> List:
    """The devices candidates train on: ``cuda`` without an index means every visible GPU."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    return [dev]


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_share(workers: int) -> int:
    """This machine's cores divided among ``workers`` concurrent trainings (at least one each)."""
    return max(1, cpu_cores() // max(workers, 1))


# Why one thread is the default: the networks hybridnas trains are small (a conv on 16 x 8 x 8
# maps takes microseconds), so a second thread buys little, while OpenMP threads that wait for
# each other on a shared machine collapse (2 threads on 2 busy cores: 4.2x slower than 1; see
# benchmarks/loaded_machine.py). Throughput comes from workers - one candidate each - instead.
DEFAULT_THREADS = 1


def passive_wait() -> bool:
    """Make OpenMP's idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose a policy.

    OpenMP reads the variable once, when torch loads it: it applies to this process only if torch
    is not imported yet (the CLI calls this first thing), and always to processes started after
    this (evaluation workers inherit the environment). Returns whether it applies here.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules


def thread_plan(requested: Optional[int], share: int) -> Tuple[int, Optional[str]]:
    """Torch threads for a process that may use ``share`` cores, and a note when ``requested``
    (the config's ``threads``) had to be lowered to fit: workers x threads never exceed the cores."""
    want = int(requested) if requested else DEFAULT_THREADS
    got = max(1, min(want, int(share)))
    note = None
    if got < want:
        note = (f"threads {want} lowered to {got} per training process: each may use {max(int(share), 1)} of "
                f"this machine's {cpu_cores()} core(s)")
    return got, note


def process_threads(cfg_threads: Optional[int]) -> int:
    """Torch threads of a process that trains alone (the block stage, ``hybridnas train``)."""
    return thread_plan(cfg_threads, cpu_cores())[0]


def candidate_threads(cfg, share: int) -> int:
    """Torch threads for one candidate, given the cores ``share`` its worker may use.

    ``threads`` in the config (default one), never more than the share. With the default, a
    candidate's result does not depend on the evaluator, the worker count or the machine's cores
    (CPU kernels may reduce in a different order with more threads).
    """
    return thread_plan(cfg.threads, share)[0]


def derive_seed(*parts) -> int:
    """A 31-bit seed from any parts (run seed, arch id, phase...), stable across processes."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def set_threads(n: int) -> int:
    """Set this process's torch threads to ``n``; returns the count before (the only place
    hybridnas changes torch's thread count)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    return before


def restore_threads(before: Optional[int]) -> None:
    """Give back the count :func:`set_threads` or :func:`configure` returned (None: they did not run)."""
    if before:
        set_threads(before)


@contextlib.contextmanager
def torch_threads(n: Optional[int]):
    """Run with ``n`` torch threads (None or 0: the count as it is), then restore the count before."""
    import torch

    before = torch.get_num_threads()
    if n:
        set_threads(n)
    try:
        yield
    finally:
        set_threads(before)


def configure(device, deterministic: bool = False, threads: Optional[int] = None) -> int:
    """Apply the run's speed/reproducibility settings to this process.

    Threads: ``threads`` torch threads (``None``: the policy's default), at most the cores
    (:func:`process_threads`); returns the count before, for a caller that runs inside another
    program (the Python API) to give back with :func:`restore_threads`.
    Fast (default): cuDNN autotuning (it picks the fastest convolution kernel per shape; the
    choice may vary between runs) and TF32 matrix products on GPUs that have them.
    Deterministic: deterministic kernels where torch has them (a warning names any op that has
    none), no autotuning, no TF32, a fixed cuBLAS workspace. It costs speed on GPUs.
    """
    import torch

    before = set_threads(process_threads(threads))
    cuda = getattr(device, "type", str(device).split(":")[0]) == "cuda"
    if deterministic:
        # cuBLAS reads this when its handle is created: set before the first product on the GPU.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return before


PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def bf16_supported(device) -> bool:
    import torch

    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch < 2.3 has no emulation flag
        return bool(torch.cuda.is_bf16_supported())


def resolve_precision(name: str, device) -> str:
    """``auto`` -> bf16 on GPUs with native bf16, fp16 on older GPUs, fp32 on CPU."""
    import torch

    dev = torch.device(device)
    if name not in PRECISIONS:
        raise UserError(f"evaluation.precision '{name}' is unknown; use one of {', '.join(PRECISIONS)}")
    if name == "auto":
        if dev.type != "cuda":
            return "fp32"
        return "bf16" if bf16_supported(dev) else "fp16"
    if name == "fp16" and dev.type != "cuda":
        raise UserError("evaluation.precision 'fp16' needs a CUDA GPU; use bf16 or fp32 on CPU")
    if name == "bf16" and dev.type == "cuda" and not bf16_supported(dev):
        raise UserError(f"evaluation.precision 'bf16': {torch.cuda.get_device_name(dev)} has no native bf16; "
                        "use fp16 or auto")
    return name


class Accel:
    """Mixed precision, memory format and batch transfer for one training on one device.

    - bf16/fp16: forward and loss under ``torch.autocast``; fp16 also scales the loss
      (``GradScaler``) so small gradients do not underflow, and skips steps whose gradients
      overflowed. Weights and optimizer state stay fp32.
    - channels-last: weights and image batches in NHWC, the layout tensor-core convolutions
      want, and 1.5x faster for the small convolutions of these networks on CPU (oneDNN;
      ``benchmarks/channels_last.py``). The settings default to on; ``None`` keeps the rule of
      runs made before that default: on for CUDA only.
    - batches of a dataset held on the host are staged in pinned memory and copied
      asynchronously, so the copy overlaps the previous step's kernels.
    """

    def __init__(self, device, precision: str = "fp32", channels_last: Optional[bool] = None):
        import torch

        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        cuda = self.device.type == "cuda"
        self.channels_last = cuda if channels_last is None else bool(channels_last)
        self.scaler = torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    @classmethod
    def for_model(cls, model, precision: str = "fp32", channels_last: Optional[bool] = None) -> "Accel":
        p = next(iter(model.parameters()), None)
        return cls(p.device if p is not None else "cpu", precision, channels_last)

    def prepare(self, model):
        import torch

        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        return model

    def autocast(self):
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def batch(self, x, y):
        import torch

        if x.device != self.device:
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
                y = y.pin_memory().to(self.device, non_blocking=True)
            else:
                x, y = x.to(self.device), y.to(self.device)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def backward(self, loss) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale(self, opt) -> None:
        """Before gradient clipping: clip the true gradients, not the scaled ones."""
        if self.scaler is not None:
            self.scaler.unscale_(opt)

    def step(self, opt) -> None:
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()


DATA_SHARE = 0.25  # of a GPU's memory, for all resident copies of the dataset together


def fits_on_device(nbytes: int, device, copies: int = 1) -> bool:
    """Whether ``copies`` of a dataset of ``nbytes`` may stay resident on ``device``.

    On a GPU the copies (one per concurrent worker on it) may take a quarter of its memory and
    half of what is free now; the rest is for the networks. The CPU always holds it.
    """
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return True
    free, total = torch.cuda.mem_get_info(dev)
    return nbytes * max(copies, 1) <= DATA_SHARE * total and nbytes <= 0.5 * free
