"""MNIST, Fashion-MNIST and KMNIST from their official gzip idx files, read with numpy alone.

The idx format (LeCun et al., http://yann.lecun.com/exdb/mnist/) is a big-endian header - two
zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64) and the number of dimensions - then one unsigned 32-bit size per
dimension, then the values row-major. Each dataset is four gzip files:

* ``train-images-idx3-ubyte.gz`` (60,000 x 28 x 28) and ``train-labels-idx1-ubyte.gz``;
* ``t10k-images-idx3-ubyte.gz`` (10,000 x 28 x 28, the official test split) and
  ``t10k-labels-idx1-ubyte.gz``.

``data.path`` is the folder holding them, or a folder with a sub-folder of the dataset's name
(``fashion_mnist/``), or torchvision's layout (``FashionMNIST/raw/``); files may be gzipped or
not. With ``data.download: true`` missing files are fetched from the dataset's mirrors into
``<data.path>/<name>/``, each checked against its published MD5 before it is moved into place.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import numpy as np

from ..errors import UserError
from .raw import data_root

if TYPE_CHECKING:
    from ..config import DataConfig

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class IdxSpec:
    name: str  # data.dataset, and the folder a download goes to
    title: str
    mirrors: Tuple[str, ...]  # base URLs, tried in order
    sums: Tuple[str, str, str, str]  # published MD5 of each file of FILES, gzipped
    torchvision_folder: str  # torchvision keeps the files under <path>/<this>/raw
    classes: Tuple[str, ...]

    @property
    def md5(self) -> Dict[str, str]:
        return {f"{stem}.gz": s for stem, s in zip(FILES, self.sums)}


# Mirrors and sums as torchvision and the datasets' own pages publish them.
MNIST = IdxSpec(
    "mnist", "MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
     "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"),
    "MNIST", tuple(str(d) for d in range(10)),
)
FASHION_MNIST = IdxSpec(
    "fashion_mnist", "Fashion-MNIST", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
     "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
    "FashionMNIST",
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
)
KMNIST = IdxSpec(
    "kmnist", "Kuzushiji-MNIST",
    ("https://codh.rois.ac.jp/kmnist/dataset/kmnist/", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
    ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
     "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"),
    "KMNIST", ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
)
SPECS = {s.name: s for s in (MNIST, FASHION_MNIST, KMNIST)}


# ---------------------------------------------------------------- the format


def parse_idx(raw: bytes, source: str) -> np.ndarray:
    """The array an idx file's bytes hold (native byte order)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in TYPES or raw[3] == 0:
        raise UserError(f"'{source}' is not an idx file (bad magic number {raw[:4].hex() or 'empty'}); "
                        "download it again")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise UserError(f"'{source}' is truncated in its header; download it again")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(TYPES[raw[2]])
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != want:
        raise UserError(
            f"'{source}' holds {len(raw) - head:,} bytes of data, but its header promises {want:,} "
            f"({' x '.join(map(str, shape))} of {dtype.name}): it is truncated or damaged; download it again"
        )
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path) -> np.ndarray:
    """An idx file, gzipped (recognised by its content, whatever its name) or not."""
    try:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as exc:  # gzip.BadGzipFile is an OSError
        raise UserError(f"cannot read '{path}' ({getattr(exc, 'strerror', None) or exc}); download it again") from None
    except (EOFError, zlib.error):  # a gzip stream cut short
        raise UserError(f"'{path}' is a truncated gzip file; download it again") from None
    return parse_idx(raw, str(path))


def idx_bytes(a: np.ndarray) -> bytes:
    """``a`` in the idx format (to convert other data into files hybridnas reads by name)."""
    a = np.asarray(a)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in TYPES.items()}
    code = codes.get(a.dtype.newbyteorder("=").str)
    if code is None or a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"idx holds 1..255-dimensional arrays of {', '.join(sorted(codes))}; got {a.dtype} {a.shape}")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(a, dtype=TYPES[code]).tobytes()


def write_idx(path: Path, a: np.ndarray) -> None:
    """Write ``a`` as an idx file, gzipped when ``path`` ends in ``.gz``."""
    data = idx_bytes(a)
    Path(path).write_bytes(gzip.compress(data, mtime=0) if str(path).endswith(".gz") else data)


# ---------------------------------------------------------------- finding, downloading, loading


def _candidates(root: Path, spec: IdxSpec) -> List[Path]:
    return [root / spec.name, root, root / spec.torchvision_folder / "raw"]


def _file_in(folder: Path, stem: str) -> Optional[Path]:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def find(root: Path, spec: IdxSpec) -> Optional[Dict[str, Path]]:
    """The four files of ``spec`` in the first candidate folder that has them all."""
    for folder in _candidates(root, spec):
        found = {stem: _file_in(folder, stem) for stem in FILES}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def download(root: Path, spec: IdxSpec) -> Dict[str, Path]:
    """Fetch the files ``root/<name>/`` lacks (MD5-checked), and return all four."""
    from .fetch import fetch_files

    target = root / spec.name
    missing = {f"{stem}.gz": spec.md5[f"{stem}.gz"] for stem in FILES if _file_in(target, stem) is None}
    fetch_files(spec.mirrors, missing, target, spec.title)
    return {stem: _file_in(target, stem) for stem in FILES}  # type: ignore[misc]


def load(cfg: DataConfig, spec: IdxSpec) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of ``spec`` under ``data.path``."""
    root = data_root(cfg)
    files = find(root, spec)
    if files is None:
        if not cfg.download:
            looked = ", ".join(f"{p}/" for p in _candidates(root, spec))
            raise UserError(
                f"{spec.name} not found: looked for {', '.join(f + '.gz' for f in FILES)} in {looked}; set data.path "
                f"to the folder that holds them, or data.download=true to fetch them into {root / spec.name}/"
            )
        files = download(root, spec)
    x, y, x_test, y_test = (read_idx(files[stem]) for stem in FILES)
    for images, labels, split in ((x, y, "train"), (x_test, y_test, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise UserError(
                f"{spec.name}: {split} images {images.shape} and labels {labels.shape} do not match (N x H x W images, "
                f"N labels); the files are not {spec.title}'s; download them again"
            )
        if len(labels) and (labels.min() < 0 or labels.max() >= len(spec.classes)):
            raise UserError(
                f"{spec.name}: {split} labels run from {labels.min()} to {labels.max()}, but {spec.title} has "
                f"{len(spec.classes)} classes; the files are not {spec.title}'s; download them again"
            )
    return x, y.astype(np.int64), x_test, y_test.astype(np.int64)
