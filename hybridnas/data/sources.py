"""Where images come from: one reader per ``data.dataset`` value, each returning the images as
stored (:class:`~hybridnas.data.raw.RawData`); :func:`~hybridnas.data.load_dataset` then splits,
caps, resizes and normalises them the same way for every source."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UserError
from ..registry import Registry
from .raw import RawData, resize_images

if TYPE_CHECKING:
    from ..config import DataConfig

SOURCES = Registry("dataset")


@SOURCES.register("digits")
def load_digits(cfg: DataConfig) -> RawData:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, values 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return RawData("digits", d.images.astype(np.float32), d.target, scale=16.0)


def _named(module: str, spec: str, doc: str):
    """The reader of a named dataset: ``module`` (:mod:`hybridnas.data.idx` or
    :mod:`hybridnas.data.cifar`) finds, downloads and reads the files its ``spec`` describes."""

    def load(cfg: DataConfig) -> RawData:
        files = importlib.import_module(f"{__package__}.{module}")
        s = getattr(files, spec)
        x, y, x_test, y_test = files.load(cfg, s)
        return RawData(s.name, x, y, x_test, y_test, scale=255.0)

    load.__doc__ = doc
    return load


for _name, _module, _spec, _doc in (
    ("mnist", "idx", "MNIST", "MNIST, 28x28 handwritten digits (official idx files; see hybridnas.data.idx)."),
    ("fashion_mnist", "idx", "FASHION_MNIST", "Fashion-MNIST, 28x28 Zalando article images, 10 classes (idx files)."),
    ("kmnist", "idx", "KMNIST", "Kuzushiji-MNIST, 28x28 cursive Japanese characters, 10 classes (idx files)."),
    ("cifar10", "cifar", "CIFAR10", "CIFAR-10 (binary version, read natively; see hybridnas.data.cifar)."),
    ("cifar100", "cifar", "CIFAR100", "CIFAR-100, 100 fine classes (binary version, read natively)."),
):
    SOURCES.register(_name)(_named(_module, _spec, _doc))


def _need_path(cfg: DataConfig, what: str) -> Path:
    if not cfg.path:
        raise UserError(f"data.dataset '{cfg.dataset}' needs data.path: the {what}")
    p = Path(cfg.path).expanduser()
    if not p.exists():
        raise UserError(f"data.path does not exist: looked for {p.absolute()}; point it at the {what} "
                        "(a relative path in a space file is relative to that file)")
    return p


@SOURCES.register("npz")
def load_npz(cfg: DataConfig) -> RawData:
    """A ``.npz`` with arrays ``x`` and ``y`` (and optionally ``x_test``, ``y_test``).

    Images may be N x H x W, N x H x W x C or N x C x H x W; uint8 images are scaled by 1/255.
    """
    p = _need_path(cfg, ".npz file with arrays x and y")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except OSError as exc:
        raise UserError(f"cannot read '{p}' ({exc.strerror or exc}); check the file") from None
    except (ValueError, zipfile.BadZipFile, EOFError):
        # not a zip of .npy arrays, cut short, or arrays of Python objects (never unpickled)
        raise UserError(f"'{p}' is not a .npz archive of numeric arrays; "
                        "save one with numpy.savez(path, x=..., y=...)") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise UserError(f"'{p}' lacks array(s) {', '.join(missing)}; it has {', '.join(arrays) or 'none'}")
    has_test = "x_test" in arrays and "y_test" in arrays
    if not has_test and ("x_test" in arrays or "y_test" in arrays):
        given, lacking = ("x_test", "y_test") if "x_test" in arrays else ("y_test", "x_test")
        raise UserError(f"'{p}' has {given} but no {lacking}; save both (an official test split) or neither")
    x = arrays["x"]
    return RawData(
        p.stem,
        x,
        arrays["y"],
        x_test=arrays.get("x_test") if has_test else None,
        y_test=arrays.get("y_test") if has_test else None,
        scale=255.0 if x.dtype == np.uint8 else None,
    )


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@SOURCES.register("folder")
def load_folder(cfg: DataConfig) -> RawData:
    """An image folder: ``path/<class>/<image>``, classes in sorted order; ``path/train`` and
    ``path/test`` sub-folders, when both exist, give an official test split. Images of
    different sizes need ``data.image_size``: each is resized as it is read."""
    from PIL import Image, UnidentifiedImageError

    root = _need_path(cfg, "image folder (one sub-folder per class)")

    def pixels(f: Path) -> np.ndarray:
        """Pixels of one image: H x W for grayscale, H x W x 3 for anything else (8-bit values)."""
        try:
            with Image.open(f) as im:
                if im.mode == "I" or im.mode.startswith("I;16"):  # 16-bit grayscale: 0..65535 -> 0..255
                    a = np.clip(np.asarray(im, dtype=np.float64), 0, 65535)
                    im = Image.fromarray(np.round(a / 257).astype(np.uint8))
                a = np.asarray(im.convert("L" if im.mode == "L" else "RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as exc:
            raise UserError(f"cannot read image '{f}' ({exc}); remove or replace it") from None
        if cfg.image_size:  # the same resize every source gets, one image at a time
            chw = a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None]
            chw = resize_images(chw, (cfg.image_size, cfg.image_size))[0]
            a = chw[0] if a.ndim == 2 else chw.transpose(1, 2, 0)
        return a

    def read(folder: Path, classes=None):
        found = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
        unknown = sorted(set(found) - set(classes or found))
        if unknown:
            raise UserError(
                f"'{folder}' has class folder(s) {', '.join(unknown)} that '{folder.parent / 'train'}' lacks; "
                "add them to the train split or remove them from the test split"
            )
        classes = classes or found
        if not classes:
            raise UserError(f"'{folder}' has no class sub-folders; put images in {folder}/<class>/<image>.png")
        xs, ys = [], []
        for k, cname in enumerate(classes):
            d = folder / cname
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    xs.append(pixels(f))
                    ys.append(k)
        if not xs:
            raise UserError(f"'{folder}' has no images; put images in {folder}/<class>/<image>.png")
        return xs, np.array(ys), classes

    def stack(xs, folder: Path, rgb: bool) -> np.ndarray:
        if rgb:  # colour and grayscale images mixed: all as RGB
            xs = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in xs]
        sizes = {a.shape[:2] for a in xs}
        if len(sizes) > 1:
            raise UserError(
                f"images under '{folder}' differ in size ({', '.join(f'{h}x{w}' for h, w in sorted(sizes)[:3])}); "
                "set data.image_size to resize them"
            )
        return np.stack(xs)

    if (root / "train").is_dir() and (root / "test").is_dir():
        x, y, classes = read(root / "train")
        xt, yt, _ = read(root / "test", classes)
        rgb = any(a.ndim == 3 for a in x + xt)
        x, xt = stack(x, root / "train", rgb), stack(xt, root / "test", rgb)
        return RawData(root.name, x, y, x_test=xt, y_test=yt, scale=255.0)
    x, y, _ = read(root)
    x = stack(x, root, any(a.ndim == 3 for a in x))
    return RawData(root.name, x, y, scale=255.0)
