"""The one supervised training loop: proxy training of candidates and full training alike.

:func:`fit` trains a network on the train split with SGD and a cosine schedule, optionally with
augmentation, cutout, drop-path and an auxiliary head, and reports accuracy on the splits asked
for. It is deterministic for a given seed on CPU: the batch order comes from a generator seeded
per epoch, so a resumed training continues exactly where it stopped.

Speed switches come from :class:`~hybridnas.device.Accel`: mixed precision (``precision``),
channels-last (on by default: 1.5x faster for these small convolutions on CPU, the layout tensor
cores want on GPU), pinned host-to-device batches. Evaluation runs under ``torch.inference_mode``.
A NaN, infinite or exploding loss (above ``max_loss``) raises :class:`DivergedError`; passing
``deadline`` (a ``time.monotonic()`` value) stops a training that runs past it with
:class:`TrainingTimeout`, checked after every step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from .config import EvaluationConfig
from .data import Dataset, Split, batches, cutout
from .device import Accel


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int = 64
    lr: float = 0.05
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    label_smoothing: float = 0.0
    grad_clip: float = 5.0
    augment: bool = False
    cutout: int = 0
    drop_path: float = 0.0
    aux_weight: float = 0.0
    precision: str = "fp32"  # auto | fp32 | bf16 | fp16 (see device.resolve_precision)
    channels_last: Optional[bool] = True  # NHWC images and weights (None: on for CUDA only, the old default)
    max_loss: Optional[float] = None  # a finite loss above this counts as diverged

    @classmethod
    def from_eval(cls, e: EvaluationConfig, augment: bool = False, epochs: Optional[int] = None) -> "TrainSettings":
        return cls(
            epochs=epochs if epochs is not None else e.epochs,
            batch_size=e.batch_size,
            lr=e.lr,
            lr_min=e.lr_min,
            momentum=e.momentum,
            weight_decay=e.weight_decay,
            label_smoothing=e.label_smoothing,
            augment=augment,
            precision=e.precision,
            channels_last=e.channels_last,
            max_loss=e.max_loss,
        )


class DivergedError(RuntimeError):
    """The loss became NaN, infinite or exploded: the candidate failed, the search goes on."""


class TrainingTimeout(RuntimeError):
    """The training ran past its deadline: the candidate failed, the search goes on."""


@torch.inference_mode()
def accuracy(model, split: Split, batch_size: int = 256, accel: Optional[Accel] = None) -> float:
    accel = accel or Accel.for_model(model)
    was = model.training
    model.eval()
    correct = 0
    for x, y in batches(split, batch_size, shuffle=False):
        x, y = accel.batch(x, y)
        with accel.autocast():
            logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
    model.train(was)
    return correct / max(len(split), 1)


def cosine_lr(lr: float, lr_min: float, epoch: int, epochs: int) -> float:
    """The learning rate of ``epoch`` (from 0) on a cosine schedule from ``lr`` down to ``lr_min``
    over ``epochs``: the one schedule of the weights, of candidates and of the supernet alike."""
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * epoch / max(epochs, 1)))


def make_optimizer(model, s: TrainSettings):
    return torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay,
                           nesterov=False)


def train_epoch(
    model, opt, data: Dataset, s: TrainSettings, epoch: int, seed: int,
    accel: Optional[Accel] = None, deadline: Optional[float] = None,
) -> float:
    from .device import derive_seed

    accel = accel or Accel.for_model(model, s.precision, s.channels_last)
    model.train()
    lr = cosine_lr(s.lr, s.lr_min, epoch, s.epochs)
    for g in opt.param_groups:
        g["lr"] = lr
    if hasattr(model, "drop_path_prob"):
        model.drop_path_prob = s.drop_path * epoch / max(s.epochs, 1)
    gen = torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch))
    total, n = 0.0, 0
    for x, y in batches(data.train, s.batch_size, shuffle=True, generator=gen, augment=s.augment):
        if s.cutout:
            x = cutout(x, s.cutout, gen)
        x, y = accel.batch(x, y)
        opt.zero_grad(set_to_none=True)
        with accel.autocast():
            out = model(x)
            if isinstance(out, tuple):  # (logits, auxiliary logits) from a model with an aux head
                logits, aux = out
                loss = F.cross_entropy(logits, y, label_smoothing=s.label_smoothing)
                loss = loss + s.aux_weight * F.cross_entropy(aux, y, label_smoothing=s.label_smoothing)
            else:
                loss = F.cross_entropy(out, y, label_smoothing=s.label_smoothing)
        value = float(loss.detach())
        if not math.isfinite(value) or (s.max_loss is not None and value > s.max_loss):
            raise DivergedError(f"loss became {value:.4g} in epoch {epoch + 1}")
        accel.backward(loss)
        if s.grad_clip:
            accel.unscale(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        accel.step(opt)
        total += value * len(y)
        n += len(y)
        if deadline is not None and time.monotonic() > deadline:
            raise TrainingTimeout(f"still training in epoch {epoch + 1} of {s.epochs}")
    return total / max(n, 1)


def fit(
    model,
    data: Dataset,
    s: TrainSettings,
    seed: int,
    *,
    eval_splits: Sequence[str] = ("val",),
    start_epoch: int = 0,
    stop_epoch: Optional[int] = None,
    optimizer=None,
    on_epoch: Optional[Callable[[int, Dict[str, float]], None]] = None,
    eval_every: int = 0,
    monitor: str = "val",
    deadline: Optional[float] = None,
) -> Dict[str, float]:
    """Train ``model`` for ``s.epochs`` (from ``start_epoch``); return final metrics.

    ``stop_epoch`` ends the training early while the schedule still spans ``s.epochs`` (a
    multi-fidelity rung; a later call continues with ``start_epoch=stop_epoch``).

    Metrics: ``train_loss``, ``<split>_acc`` for each of ``eval_splits``, ``seconds``.
    ``on_epoch(epoch, metrics)`` runs after every epoch (checkpointing hooks in here);
    with ``eval_every`` > 0 it also gets the accuracy on the ``monitor`` split (``val_acc`` by
    default) every that many epochs and after the last one, which the final metrics reuse.
    """
    accel = Accel.for_model(model, s.precision, s.channels_last)
    accel.prepare(model)  # before the optimizer exists: the memory format change keeps parameters
    opt = optimizer or make_optimizer(model, s)
    t0 = time.perf_counter()
    loss = float("nan")
    end = s.epochs if stop_epoch is None else min(stop_epoch, s.epochs)
    final: Dict[str, float] = {}  # the monitored accuracy after the last epoch, if measured
    for epoch in range(start_epoch, end):
        loss = train_epoch(model, opt, data, s, epoch, seed, accel=accel, deadline=deadline)
        if on_epoch is not None:
            m = {"train_loss": loss, "lr": cosine_lr(s.lr, s.lr_min, epoch, s.epochs)}
            if eval_every and ((epoch + 1) % eval_every == 0 or epoch + 1 == end):
                m[f"{monitor}_acc"] = accuracy(model, getattr(data, monitor), accel=accel)
                if epoch + 1 == end:
                    final = {monitor: m[f"{monitor}_acc"]}
            on_epoch(epoch, m)
    out = {"train_loss": loss, "seconds": time.perf_counter() - t0}
    for name in eval_splits:
        out[f"{name}_acc"] = final[name] if name in final else accuracy(model, getattr(data, name), accel=accel)
    return out
