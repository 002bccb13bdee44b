"""CIFAR-10 and CIFAR-100, read from the authors' *binary version* with numpy alone.

No torchvision and no unpickling: the binary version (``cifar-10-binary.tar.gz``,
``cifar-100-binary.tar.gz`` from https://www.cs.toronto.edu/~kriz/cifar.html) is a flat file of
fixed-size records, each the label byte(s) followed by 3,072 image bytes — the red, green and
blue planes of a 32 x 32 image, row by row:

* CIFAR-10, ``cifar-10-batches-bin/``: ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training)
  and ``test_batch.bin``; records of 1 + 3,072 bytes (label 0..9), 10,000 per file.
* CIFAR-100, ``cifar-100-binary/``: ``train.bin`` and ``test.bin``; records of 2 + 3,072 bytes
  (coarse label 0..19, then fine label 0..99); the fine label is the class.

``data.path`` is the folder holding that sub-folder (or the sub-folder itself). With
``data.download: true`` a missing dataset is fetched there, its MD5 checked against the authors'
published sum, and extracted member by member (regular files under the dataset's folder only).
A folder of the *Python* version (``cifar-10-batches-py``, which torchvision downloads) is read
through torchvision when it is installed, since that version is pickled.
"""

from __future__ import annotations

import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Tuple

import numpy as np

from ..errors import UserError, require
from .raw import data_root

if TYPE_CHECKING:
    from ..config import DataConfig

IMAGE_BYTES = 3 * 32 * 32


@dataclass(frozen=True)
class Cifar:
    name: str
    folder: str  # the folder the archive extracts to
    train: Tuple[str, ...]
    test: Tuple[str, ...]
    label_bytes: int  # label bytes before each image
    label_at: int  # which of them is the class
    classes: int
    url: str
    md5: str
    python_folder: str  # the pickled version's folder (torchvision's download)
    torchvision_class: str

    @property
    def record(self) -> int:
        return self.label_bytes + IMAGE_BYTES

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1]


CIFAR10 = Cifar(
    name="cifar10",
    folder="cifar-10-batches-bin",
    train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    test=("test_batch.bin",),
    label_bytes=1,
    label_at=0,
    classes=10,
    url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5="c32a1d4ab5d03f1284b67883e8d87530",
    python_folder="cifar-10-batches-py",
    torchvision_class="CIFAR10",
)
CIFAR100 = Cifar(
    name="cifar100",
    folder="cifar-100-binary",
    train=("train.bin",),
    test=("test.bin",),
    label_bytes=2,
    label_at=1,
    classes=100,
    url="https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    md5="03b5dce01913d631647c71ecec9e9cb8",
    python_folder="cifar-100-python",
    torchvision_class="CIFAR100",
)


def read_records(path: Path, spec: Cifar) -> Tuple[np.ndarray, np.ndarray]:
    """Images (N x 3 x 32 x 32 uint8) and class labels (N,) of one binary file."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"cannot read '{path}' ({exc.strerror}); check the file and its permissions") from None
    if raw.size == 0 or raw.size % spec.record:
        raise UserError(
            f"'{path}' is {raw.size:,} bytes, not a whole number of {spec.name} records ({spec.record:,} bytes "
            f"each): it is truncated or not the binary version; download it again"
        )
    records = raw.reshape(-1, spec.record)
    labels = records[:, spec.label_at].astype(np.int64)
    if labels.max() >= spec.classes:
        raise UserError(
            f"'{path}' holds label {int(labels.max())}, but {spec.name} has {spec.classes} classes: it is not "
            f"the {spec.name} binary version; download it again"
        )
    images = records[:, spec.label_bytes:].reshape(-1, 3, 32, 32)
    return images, labels


def find(root: Path, spec: Cifar) -> Optional[Path]:
    """The folder holding the binary files: ``root/<folder>`` or ``root`` itself, if complete."""
    for folder in (root / spec.folder, root):
        if all((folder / f).is_file() for f in spec.train + spec.test):
            return folder
    return None


def load(cfg: DataConfig, spec: Cifar) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of the dataset ``spec`` under ``cfg.path``."""
    root = data_root(cfg)
    folder = find(root, spec)
    if folder is None and (root / spec.python_folder).is_dir() and not cfg.download:
        return _load_python_version(root, spec)
    if folder is None:
        if not cfg.download:
            raise UserError(
                f"{spec.name} not found under '{root.absolute()}' (looked for {spec.folder}/ with "
                f"{', '.join(spec.train + spec.test)}); set data.path to the folder that holds it, "
                f"or data.download=true to fetch it there ({spec.url})"
            )
        folder = download(root, spec)
    train = [read_records(folder / f, spec) for f in spec.train]
    x_test, y_test = read_records(folder / spec.test[0], spec)
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)


def _load_python_version(root: Path, spec: Cifar):
    """The pickled Python version through torchvision (which unpickles it); only when present."""
    try:
        tv = require("torchvision", "vision", f"the Python version of {spec.name} in '{root / spec.python_folder}'")
    except UserError as exc:
        raise UserError(
            f"{exc}; or use the binary version, which hybridnas reads without torchvision: "
            f"data.download=true, or extract {spec.archive} under '{root}'"
        ) from None
    cls = getattr(tv.datasets, spec.torchvision_class)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
        raise UserError(f"{spec.name} in '{root / spec.python_folder}' is incomplete ({exc}); "
                        "download it again") from None
    to_nchw = lambda d: np.ascontiguousarray(np.asarray(d.data).transpose(0, 3, 1, 2))
    return to_nchw(train), np.asarray(train.targets), to_nchw(test), np.asarray(test.targets)


def download(root: Path, spec: Cifar) -> Path:
    """Fetch ``spec``'s archive into ``root``, check its MD5, extract it; return the data folder.

    The archive goes to a staging folder beside the destination
    (:func:`~hybridnas.store.staging_folder`, which also clears those of killed downloads), is
    checked (:func:`~hybridnas.data.fetch.download_file`) and extracted there, and the data
    folder is renamed into place at the end: an interrupted download leaves nothing that looks
    like a dataset.
    """
    from ..store import staging_folder
    from .fetch import download_file

    try:
        stage = staging_folder(root / spec.folder)
    except OSError as exc:
        raise UserError(f"cannot write to data.path '{root}' ({exc.strerror}); choose a writable folder") from None
    try:
        archive = stage / spec.archive
        download_file([spec.url], archive, spec.md5, f"fetch it by hand and extract it under '{root}'")
        target = root / spec.folder
        try:
            _extract(archive, stage, spec)
            if target.exists():
                shutil.rmtree(target)  # an incomplete earlier copy (find() did not accept it)
            (stage / spec.folder).rename(target)
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:  # EOFError: a cut gzip stream
            raise UserError(
                f"cannot extract {spec.archive} into '{root}' ({getattr(exc, 'strerror', None) or exc}); "
                f"free space or fix the permissions there and run the search again"
            ) from None
        return target
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _extract(archive: Path, into: Path, spec: Cifar) -> None:
    """Extract the regular files under ``spec.folder/`` from the archive; refuse anything else
    that would land outside it (absolute names, ``..``, links)."""
    wanted: List[tarfile.TarInfo] = []
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if m.name.startswith("/") or ".." in parts:
                raise UserError(f"{spec.archive} holds an unsafe path '{m.name}'; it is not the {spec.name} archive")
            if parts and parts[0] == spec.folder and m.isfile():
                wanted.append(m)
        if not wanted:
            raise UserError(f"{spec.archive} has no {spec.folder}/ folder; it is not the {spec.name} binary version")
        for m in wanted:
            dest = into.joinpath(*Path(m.name).parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
