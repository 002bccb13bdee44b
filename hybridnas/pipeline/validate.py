"""The checks of a search that need the data or the machine, made before a new run's directory
exists (:func:`validate`)."""


from __future__ import annotations

from ..config import (
    Checks,
    RunConfig,
    check_against_data,
)
from ..errors import UserError


def validate(cfg: RunConfig, source: str = "config", device=None):
    """Every check of a search that needs the data or the machine, before anything is written:
    the device and precision, the data (loaded and checked by its source), the bounds that follow
    from it (batch sizes, the cutout of ``train``, cross-validation folds) and the constraints
    (params and FLOPs against the smallest network of the space, latency against its stem).
    Returns the dataset (``None`` for a tabular space). Writes nothing."""
    from ..data import load_dataset
    from ..device import resolve_device, resolve_precision
    from ..space.costs import check_constraints

    device = device if device is not None else resolve_device(cfg.device)
    ck = Checks(source)
    if cfg.evaluation.precision == "fp16" and device.type != "cuda":
        ck.bad("evaluation.precision", f"is 'fp16', which needs a CUDA GPU, and this run trains on {device}; "
                                       "use auto, bf16 or fp32")
    resolve_precision(cfg.evaluation.precision, device)
    if cfg.tabular:
        return None
    try:
        data = load_dataset(cfg.data, cfg.seed)
    except MemoryError:  # numpy refuses an allocation beyond the machine's memory at once
        size = f"{cfg.data.image_size}x{cfg.data.image_size}" if cfg.data.image_size else "their size"
        raise UserError(f"the images of {cfg.data.dataset} at {size} do not fit in this machine's memory; lower "
                        "data.image_size or cap the images with data.subset") from None
    check_against_data(cfg, len(data.train), tuple(data.image_size), source)
    if cfg.evaluation.folds > 1:
        from ..evaluate.folds import Folds

        Folds(cfg.evaluation.folds, 0).check(data)
    check_constraints(cfg, data.in_chans, data.num_classes, data.image_size)
    limit = cfg.constraints.max_latency_ms
    if limit is not None:
        floor = _stem_latency(cfg, data, device)
        if limit < floor / 2:  # half: a margin for timing noise, so only a limit no network can meet is refused
            ck.bad("constraints.max_latency_ms", f"is {limit:g} ms, but the stem convolution alone takes about "
                                                  f"{floor:.3g} ms on {device}; raise the limit")
    return data


def _stem_latency(cfg: RunConfig, data, device) -> float:
    """Milliseconds of the narrowest stem the space allows (every network starts with one), timed
    as the latency table times its components, on one image: a floor under every network's
    latency at any batch; 0 when it cannot be timed here (then only the search can tell)."""
    import torch

    from ..space.latency import time_call

    c = min(cfg.network.stem)
    if 4 * c * (9 * data.in_chans + data.image_size[0] * data.image_size[1]) > 2**28:
        return 0.0  # a stem over 256 MiB is not built to time it; the search measures it
    try:
        stem = torch.nn.Sequential(torch.nn.Conv2d(data.in_chans, c, 3, padding=1, bias=False),
                                   torch.nn.BatchNorm2d(c)).to(device).eval()
        x = torch.randn(1, data.in_chans, *data.image_size, device=device)
        return time_call(lambda: stem(x), device, warmup=min(cfg.latency.warmup, 3), repeats=10)
    except (RuntimeError, MemoryError):  # a stem too wide to build here: the search will say so
        return 0.0
