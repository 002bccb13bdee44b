"""What a source reads, before any split: images and labels as stored (:class:`RawData`), where named
datasets are looked for (:func:`data_root`), and the image resizing that the sources and
:func:`~hybridnas.data.build_dataset` share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

import numpy as np
import torch

if TYPE_CHECKING:
    from ..config import DataConfig


@dataclass(frozen=True)
class RawData:
    """What a source reads: images and labels as stored, before any split or preprocessing."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_test: Optional[np.ndarray] = None  # an official test split, when the dataset has one
    y_test: Optional[np.ndarray] = None
    scale: Optional[float] = None  # raw values are divided by this (255 for 8-bit images)

    def digest(self) -> Dict[str, Any]:
        """The arrays as read: shape and dtype of each, one sha256 over all (a run's fingerprint)."""
        import hashlib

        h, arrays = hashlib.sha256(), {}
        for key in ("x", "y", "x_test", "y_test"):
            a = getattr(self, key)
            if a is None:
                continue
            a = np.ascontiguousarray(a)
            arrays[key] = {"shape": list(a.shape), "dtype": str(a.dtype)}
            h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
            h.update(a.reshape(-1).view(np.uint8))
        return {"arrays": arrays, "sha256": h.hexdigest()}


def data_root(cfg: DataConfig) -> Path:
    """The folder a named dataset is looked for (and downloaded) in: ``data.path``, else
    ``data/`` in the working directory (as runs go to ``runs/``)."""
    return Path(cfg.path).expanduser() if cfg.path else Path("data")


def resize_images(x: np.ndarray, size: Tuple[int, int], chunk: int = 4096) -> np.ndarray:
    """N x C x H x W images resized to ``size``, as float32 in the same value range; unchanged
    when they already have that size. Shrinking averages the pixels each output pixel covers
    (area, as pooling by hand would: 28 -> 14 is a 2x2 mean); enlarging is bilinear."""
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[2:]) == size:
        return x
    import torch.nn.functional as F

    shrink = size[0] <= x.shape[2] and size[1] <= x.shape[3]
    out = np.empty((len(x), x.shape[1], *size), dtype=np.float32)
    for i in range(0, len(x), chunk):
        part = torch.from_numpy(np.ascontiguousarray(x[i:i + chunk], dtype=np.float32))
        if shrink:
            part = F.interpolate(part, size=size, mode="area")
        else:
            part = F.interpolate(part, size=size, mode="bilinear", antialias=True, align_corners=False)
        out[i:i + chunk] = part.numpy()
    return out
