"""Datasets as in-memory tensors with seeded, stratified train/val/test splits.

Sources (:mod:`hybridnas.data.sources`): ``digits`` (scikit-learn's bundled 8x8 digits, the
embedded default), ``mnist``, ``fashion_mnist`` and ``kmnist`` (the official gzip idx files:
:mod:`hybridnas.data.idx`), ``cifar10`` and ``cifar100`` (the authors' binary version, read with
numpy: :mod:`hybridnas.data.cifar`), ``npz`` (arrays in a ``.npz`` file) and ``folder`` (an
image-folder layout, one sub-folder per class). Each source returns
:class:`~hybridnas.data.raw.RawData`; this module checks it, splits it, caps the splits, resizes and
normalises it (:func:`build_dataset`), so every source gets the same options, checks and error messages.
The whole dataset is held as tensors, moved to the device once (``Dataset.to``), and
batched by :func:`batches` without a DataLoader: for images this small, indexing a resident
tensor is faster than worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch

from ..errors import UserError
from .raw import RawData, resize_images
from .sources import SOURCES

if TYPE_CHECKING:
    from ..config import DataConfig


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float32, N x C x H x W, normalised
    y: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device))

    def halves(self, seed: int) -> Tuple["Split", "Split"]:
        """Two disjoint halves (for the bilevel block search: weights on one, alpha on the other)."""
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=g).to(self.y.device)
        a, b = perm[: len(self) // 2], perm[len(self) // 2 :]
        return Split(self.x[a], self.y[a]), Split(self.x[b], self.y[b])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    scale: float = 1.0  # raw pixel values are divided by this before normalising
    source: Optional[Dict[str, Any]] = None  # the raw arrays' shapes, dtypes and sha256 (RawData.digest)

    @property
    def in_chans(self) -> int:
        return int(self.train.x.shape[1])

    @property
    def image_size(self) -> Tuple[int, int]:
        return int(self.train.x.shape[2]), int(self.train.x.shape[3])

    def to(self, device) -> "Dataset":
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    @property
    def nbytes(self) -> int:
        """Memory the three splits take (images and labels)."""
        return sum(t.numel() * t.element_size() for s in (self.train, self.val, self.test) for t in (s.x, s.y))

    def info(self) -> dict:
        """What a user of an exported model needs: shapes and preprocessing."""
        return {
            "name": self.name,
            "in_chans": self.in_chans,
            "image_size": list(self.image_size),
            "num_classes": self.num_classes,
            "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            "preprocessing": {"scale": self.scale, "mean": list(self.mean), "std": list(self.std),
                              "formula": "x = (raw / scale - mean[c]) / std[c], layout N x C x H x W"},
        }

    def describe(self) -> str:
        c, (h, w) = self.in_chans, self.image_size
        return (
            f"{self.name}: {len(self.train)} train / {len(self.val)} val / {len(self.test)} test, "
            f"{c}x{h}x{w}, {self.num_classes} classes"
        )


def to_nchw(x: np.ndarray, source: str) -> np.ndarray:
    """Accept N x H x W, N x H x W x C (C in 1, 3, 4) or N x C x H x W; return N x C x H x W."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        if x.shape[1] in (1, 3) and x.shape[3] not in (1, 3):
            return x
        if x.shape[3] in (1, 3, 4):
            return np.transpose(x, (0, 3, 1, 2))
        return x
    raise UserError(
        f"{source}: images must have shape N x H x W, N x H x W x C or N x C x H x W, got {tuple(x.shape)}"
    )


def check_arrays(x: np.ndarray, y: np.ndarray, source: str,
                 training: bool = True) -> Tuple[np.ndarray, np.ndarray, int]:
    """Shape, dtype and label checks shared by every source; returns (x, y, num_classes)."""
    x = np.asarray(x)
    y = np.asarray(y)
    if x.size == 0 or len(x) == 0:
        raise UserError(f"{source}: the dataset is empty; give at least one image per class")
    if not np.issubdtype(x.dtype, np.number):
        raise UserError(f"{source}: images must be numeric arrays, got dtype {x.dtype}")
    x = to_nchw(x, source)
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(
            f"{source}: labels must be a 1-D array with one label per image; got shape {tuple(y.shape)} "
            f"for {len(x)} images"
        )
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise UserError(f"{source}: labels must be integers 0..K-1, got dtype {y.dtype}")
    if y.min() < 0:
        raise UserError(f"{source}: label {int(y.min())} is out of range; labels must be integers 0..K-1")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{source}: images contain NaN or infinite values; clean the data")
    num_classes = int(y.max()) + 1
    if training and num_classes > len(y):  # more classes than images: not numbered 0..K-1 (and K would be allocated)
        raise UserError(f"{source}: label {int(y.max())} is out of range for {len(y)} images; labels must be "
                        "integers 0..K-1, K at most the number of images")
    if training and len(np.unique(y)) < 2:
        raise UserError(f"{source}: found a single class; a classifier needs at least two")
    if x.shape[2] < 2 or x.shape[3] < 2:
        raise UserError(f"{source}: images are {x.shape[2]}x{x.shape[3]}; they must be at least 2x2")
    return x, y.astype(np.int64), num_classes


def _check_fits(name: str, n: int, channels: int, side: int) -> None:
    """Refuse a resize whose images would not fit in the memory available now (float32, with the
    copies normalising makes), before anything is allocated: the machine would kill the process."""
    from ..core.memory import available_bytes

    need = 3 * 4 * n * channels * side * side
    avail = available_bytes("cpu")
    if avail is not None and need > avail:
        raise UserError(f"{name}: {n:,} images at {side}x{side} need about {need / 2**30:.1f} GiB but "
                        f"{avail / 2**30:.1f} GiB is available; lower data.image_size or cap the images with "
                        "data.subset, data.val_subset and data.test_subset")


def _stratified_split(y: np.ndarray, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Indices (rest, part) with ``part`` about ``fraction`` of each class (at least one each)."""
    rng = np.random.default_rng(seed)
    rest, part = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = int(round(fraction * len(idx)))
        k = min(max(k, 1 if len(idx) > 1 else 0), len(idx) - 1) if len(idx) > 1 else 0
        part.append(idx[:k])
        rest.append(idx[k:])
    rest_i, part_i = np.concatenate(rest), np.concatenate(part)
    rng.shuffle(rest_i)
    rng.shuffle(part_i)
    return rest_i, part_i


def _cap(x: np.ndarray, y: np.ndarray, n: Optional[int], seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """At most ``n`` of the images, stratified by class and seeded (all of them when ``n`` is None)."""
    if n is None or n >= len(y):
        return x, y
    keep, _ = _stratified_split(y, 1 - n / len(y), seed)
    return x[keep], y[keep]


def _to_tensor(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    x = x.astype(np.float32)
    return torch.from_numpy((x - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()


def build_dataset(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    x_test: Optional[np.ndarray] = None,
    y_test: Optional[np.ndarray] = None,
    subset: Optional[int] = None,
    val_subset: Optional[int] = None,
    test_subset: Optional[int] = None,
    scale: Optional[float] = None,
    image_size: Optional[int] = None,
    merge_val: bool = False,
) -> Dataset:
    """Check, split (stratified, seeded), resize and normalise raw arrays into a :class:`Dataset`.

    With ``x_test`` given (an official test set), only the validation split is carved out of
    ``x``; otherwise the test split is carved first (``test_fraction`` of each class), then the
    validation split from the rest. The splits never depend on the caps: ``subset``,
    ``val_subset`` and ``test_subset`` then keep at most that many training, validation and
    test images (stratified, seeded), so a capped split is a part of the uncapped one.
    ``merge_val`` trains on the training and validation splits together (the validation split
    is then empty: final training, the test split untouched). ``image_size`` resizes every
    split to that square size. ``scale`` divides pixel values first (255 for 8-bit images);
    the normalisation statistics come from the training split.
    """
    x, y, k = check_arrays(x, y, name)
    if x_test is not None:
        x_test, y_test, k_test = check_arrays(x_test, y_test, f"{name} (test)", training=False)
        if x_test.shape[1] != x.shape[1] or (image_size is None and x_test.shape[1:] != x.shape[1:]):
            raise UserError(
                f"{name}: test images are {tuple(x_test.shape[1:])} but training images are "
                f"{tuple(x.shape[1:])}; give both the same shape"
            )
        if k_test > k:
            raise UserError(f"{name} (test): label {k_test - 1} is not a class of the training images (0..{k - 1}); "
                            "give test labels of the training classes")
        rest, val = _stratified_split(y, val_fraction, seed)
        tr_x, tr_y, va_x, va_y, te_x, te_y = x[rest], y[rest], x[val], y[val], x_test, y_test
    else:
        rest, test = _stratified_split(y, test_fraction, seed)
        rest2, val = _stratified_split(y[rest], val_fraction / (1 - test_fraction), seed + 1)
        tr_idx, va_idx = rest[rest2], rest[val]
        tr_x, tr_y, va_x, va_y, te_x, te_y = x[tr_idx], y[tr_idx], x[va_idx], y[va_idx], x[test], y[test]
    if merge_val:
        tr_x, tr_y = np.concatenate([tr_x, va_x]), np.concatenate([tr_y, va_y])
        va_x, va_y = va_x[:0], va_y[:0]
    tr_x, tr_y = _cap(tr_x, tr_y, subset, seed + 2)
    va_x, va_y = _cap(va_x, va_y, val_subset, seed + 3)
    te_x, te_y = _cap(te_x, te_y, test_subset, seed + 4)
    for split_name, sy in (("train", tr_y), ("validation", va_y), ("test", te_y)):
        if len(sy) == 0 and not (merge_val and split_name == "validation"):
            raise UserError(f"{name}: the {split_name} split is empty; give more images or change the fractions")
    if image_size is not None:
        _check_fits(name, len(tr_x) + len(va_x) + len(te_x), tr_x.shape[1], image_size)
        tr_x, va_x, te_x = (resize_images(a, (image_size, image_size)) for a in (tr_x, va_x, te_x))
    if scale:
        tr_x, va_x, te_x = (a.astype(np.float32) / scale for a in (tr_x, va_x, te_x))
    tr_x = tr_x.astype(np.float32)
    mean = tr_x.mean(axis=(0, 2, 3)).astype(np.float32)
    std = tr_x.std(axis=(0, 2, 3)).astype(np.float32)
    std[std < 1e-6] = 1.0
    mk = lambda a, b: Split(_to_tensor(a, mean, std), torch.from_numpy(np.asarray(b, dtype=np.int64)))
    return Dataset(
        name=name,
        train=mk(tr_x, tr_y),
        val=mk(va_x, va_y),
        test=mk(te_x, te_y),
        num_classes=k,
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        scale=float(scale or 1.0),
    )


def load_dataset(cfg: DataConfig, seed: int, *, merge_val: bool = False) -> Dataset:
    """The dataset a :class:`~hybridnas.config.DataConfig` names, split with ``seed`` (see
    :func:`build_dataset` for ``merge_val``)."""
    raw: RawData = SOURCES.get(cfg.dataset, key="data.dataset")(cfg)
    data = build_dataset(
        raw.name, raw.x, raw.y, x_test=raw.x_test, y_test=raw.y_test, scale=raw.scale,
        val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=seed,
        subset=cfg.subset, val_subset=cfg.val_subset, test_subset=cfg.test_subset,
        image_size=cfg.image_size, merge_val=merge_val,
    )
    return replace(data, source=raw.digest())


def batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool,
    generator: Optional[torch.Generator] = None,
    augment: bool = False,
    drop_last: bool = False,
) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of a resident split. Shuffling uses ``generator`` (CPU) for reproducibility."""
    n = len(split)
    if shuffle:
        order = torch.randperm(n, generator=generator).to(split.y.device)
    else:
        order = torch.arange(n, device=split.y.device)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        x, y = split.x[idx], split.y[idx]
        if augment:
            x = random_crop_flip(x, generator)
        yield x, y


def random_crop_flip(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random crop after zero-padding by 1/8 of the side, and a random horizontal flip, per image."""
    n, _, h, w = x.shape
    pad = max(1, h // 8)
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # n x h
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # n x w
    flip = torch.rand(n, generator=generator).to(x.device) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def cutout(x: torch.Tensor, size: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Zero one random ``size x size`` square per image (DeVries & Taylor, 2017)."""
    if size <= 0:
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
    cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_y = (ys - cy[:, None]).abs() <= size // 2
    in_x = (xs - cx[:, None]).abs() <= size // 2
    mask = ~(in_y[:, :, None] & in_x[:, None, :])
    return x * mask[:, None].to(x.dtype)
