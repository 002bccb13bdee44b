"""Device choice, seeding and the speed/reproducibility switches, in one place."""

from __future__ import annotations

import hashlib
import os
import random

from .errors import UserError


def resolve_device(name: str = "auto"):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"device '{name}' was asked for but no CUDA GPU is visible; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(
                f"device '{name}' does not exist: {torch.cuda.device_count()} GPU(s) are visible; use cuda:0..cuda:{torch.cuda.device_count() - 1}"
            )
        return dev
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N")


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


def configure(device, deterministic: bool = False, threads=None) -> None:
    """Apply the run's speed/reproducibility settings to this process."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    elif getattr(device, "type", str(device)) == "cuda":
        torch.backends.cudnn.benchmark = True
