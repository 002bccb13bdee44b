"""The one supervised training loop: proxy training of candidates and full training alike.

:func:`fit` trains a network on the train split with SGD and a cosine schedule, optionally with
augmentation, cutout, drop-path and an auxiliary head, and reports accuracy on the splits asked
for. It is deterministic for a given seed on CPU: the batch order comes from a generator seeded
per epoch, so a resumed training continues exactly where it stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from .data import Dataset, Split, batches, cutout


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

    @classmethod
    def from_eval(cls, e, augment: bool = False, epochs: Optional[int] = None) -> "TrainSettings":
        return cls(
            epochs=epochs if epochs is not None else e.epochs,
            batch_size=e.batch_size,
            lr=e.lr,
            lr_min=e.lr_min,
            momentum=e.momentum,
            weight_decay=e.weight_decay,
            label_smoothing=e.label_smoothing,
            augment=augment,
        )


class DivergedError(RuntimeError):
    """The loss became NaN or infinite: the candidate failed, the search goes on."""


@torch.no_grad()
def accuracy(model, split: Split, batch_size: int = 256) -> float:
    was = model.training
    model.eval()
    correct = 0
    for x, y in batches(split, batch_size, shuffle=False):
        correct += int((model(x).argmax(1) == y).sum())
    model.train(was)
    return correct / max(len(split), 1)


def cosine_lr(s: TrainSettings, epoch: int) -> float:
    return s.lr_min + 0.5 * (s.lr - s.lr_min) * (1 + math.cos(math.pi * epoch / max(s.epochs, 1)))


def make_optimizer(model, s: TrainSettings):
    return torch.optim.SGD(model.parameters(), lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay, nesterov=False)


def train_epoch(model, opt, data: Dataset, s: TrainSettings, epoch: int, seed: int) -> float:
    from .device import derive_seed

    model.train()
    lr = cosine_lr(s, epoch)
    for g in opt.param_groups:
        g["lr"] = lr
    if hasattr(model, "drop_path_prob"):
        model.drop_path_prob = s.drop_path * epoch / max(s.epochs, 1)
    gen = torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch))
    total, n = 0.0, 0
    for x, y in batches(data.train, s.batch_size, shuffle=True, generator=gen, augment=s.augment):
        if s.cutout:
            x = cutout(x, s.cutout, gen)
        opt.zero_grad(set_to_none=True)
        out = model(x)
        if isinstance(out, tuple):  # (logits, auxiliary logits) from a model with an aux head
            logits, aux = out
            loss = F.cross_entropy(logits, y, label_smoothing=s.label_smoothing)
            loss = loss + s.aux_weight * F.cross_entropy(aux, y, label_smoothing=s.label_smoothing)
        else:
            loss = F.cross_entropy(out, y, label_smoothing=s.label_smoothing)
        if not torch.isfinite(loss.detach()):
            raise DivergedError(f"loss became {loss.item()} in epoch {epoch + 1}")
        loss.backward()
        if s.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        total += float(loss.detach()) * len(y)
        n += len(y)
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
) -> Dict[str, float]:
    """Train ``model`` for ``s.epochs`` (from ``start_epoch``); return final metrics.

    ``stop_epoch`` ends the training early while the schedule still spans ``s.epochs`` (a
    multi-fidelity rung; a later call continues with ``start_epoch=stop_epoch``).

    Metrics: ``train_loss``, ``<split>_acc`` for each of ``eval_splits``, ``seconds``.
    ``on_epoch(epoch, metrics)`` runs after every epoch (checkpointing hooks in here);
    with ``eval_every`` > 0 it also gets validation accuracy every that many epochs.
    """
    opt = optimizer or make_optimizer(model, s)
    t0 = time.perf_counter()
    loss = float("nan")
    end = s.epochs if stop_epoch is None else min(stop_epoch, s.epochs)
    for epoch in range(start_epoch, end):
        loss = train_epoch(model, opt, data, s, epoch, seed)
        if on_epoch is not None:
            m = {"train_loss": loss, "lr": cosine_lr(s, epoch)}
            if eval_every and ((epoch + 1) % eval_every == 0 or epoch + 1 == end):
                m["val_acc"] = accuracy(model, data.val)
            on_epoch(epoch, m)
    out = {"train_loss": loss, "seconds": time.perf_counter() - t0}
    for name in eval_splits:
        out[f"{name}_acc"] = accuracy(model, getattr(data, name))
    return out
