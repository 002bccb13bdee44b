"""Where images come from: one loader per ``data.dataset`` value, all returning a checked
:class:`~hybridnas.data.Dataset` through :func:`~hybridnas.data.build_dataset`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..registry import Registry
from . import build_dataset

SOURCES = Registry("dataset")


def _common(cfg, seed):
    return dict(val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=seed, subset=cfg.subset)


@SOURCES.register("digits")
def load_digits(cfg, seed):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, values 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return build_dataset("digits", d.images.astype(np.float32), d.target, scale=16.0, **_common(cfg, seed))


def _cifar(cfg, seed, spec):
    from . import cifar

    x, y, x_test, y_test = cifar.load(cfg, spec)
    return build_dataset(spec.name, x, y, x_test=x_test, y_test=y_test, scale=255.0, **_common(cfg, seed))


@SOURCES.register("cifar10")
def load_cifar10(cfg, seed):
    """CIFAR-10 (binary version, read natively; see :mod:`hybridnas.data.cifar`)."""
    from .cifar import CIFAR10

    return _cifar(cfg, seed, CIFAR10)


@SOURCES.register("cifar100")
def load_cifar100(cfg, seed):
    """CIFAR-100, 100 fine classes (binary version, read natively)."""
    from .cifar import CIFAR100

    return _cifar(cfg, seed, CIFAR100)


def _need_path(cfg, what: str) -> Path:
    if not cfg.path:
        raise UserError(f"data.dataset '{cfg.dataset}' needs data.path: the {what}")
    p = Path(cfg.path).expanduser()
    if not p.exists():
        raise UserError(f"data.path '{p}' does not exist; point it at the {what}")
    return p


@SOURCES.register("npz")
def load_npz(cfg, seed):
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
        raise UserError(f"'{p}' is not a .npz archive of numeric arrays; save one with numpy.savez(path, x=..., y=...)") from None
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise UserError(f"'{p}' lacks array(s) {', '.join(missing)}; it has {', '.join(arrays) or 'none'}")
    has_test = "x_test" in arrays and "y_test" in arrays
    x = arrays["x"]
    scale = 255.0 if x.dtype == np.uint8 else None
    return build_dataset(
        p.stem,
        x,
        arrays["y"],
        x_test=arrays.get("x_test") if has_test else None,
        y_test=arrays.get("y_test") if has_test else None,
        scale=scale,
        **_common(cfg, seed),
    )


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@SOURCES.register("folder")
def load_folder(cfg, seed):
    """An image folder: ``path/<class>/<image>``, classes in sorted order; ``path/train`` and
    ``path/test`` sub-folders, when both exist, give an official test split."""
    from PIL import Image, UnidentifiedImageError

    root = _need_path(cfg, "image folder (one sub-folder per class)")

    def pixels(f: Path) -> np.ndarray:
        """8-bit pixels of one image: H x W for grayscale, H x W x 3 for anything else."""
        try:
            with Image.open(f) as im:
                if im.mode == "I" or im.mode.startswith("I;16"):  # 16-bit grayscale: 0..65535 -> 0..255
                    a = np.clip(np.asarray(im, dtype=np.float64), 0, 65535)
                    im = Image.fromarray(np.round(a / 257).astype(np.uint8))
                im = im.convert("L" if im.mode == "L" else "RGB")
                if cfg.image_size:
                    im = im.resize((cfg.image_size, cfg.image_size))
                return np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as exc:
            raise UserError(f"cannot read image '{f}' ({exc}); remove or replace it") from None

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
        return build_dataset(root.name, x, y, x_test=xt, y_test=yt, scale=255.0, **_common(cfg, seed))
    x, y, _ = read(root)
    x = stack(x, root, any(a.ndim == 3 for a in x))
    return build_dataset(root.name, x, y, scale=255.0, **_common(cfg, seed))
