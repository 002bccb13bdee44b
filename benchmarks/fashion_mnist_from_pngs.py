"""Rebuild Fashion-MNIST's official gzip idx files from PNGs, for machines without internet.

Input: the 70,000 images as PNGs, ``<pngs>/{train,test}/<label>/<NNNN>.png`` (as in the public
repository Sentdex/nnfs_book, folder ``fashion_mnist_images/``, MIT, Zalando), where the files of
a class are numbered in the order the images appear in the official files; and the official
label files ``train-labels-idx1-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (public repository
zalandoresearch/fashion-mnist, ``data/fashion/``). The images are put back in the official order
(the k-th image of class c goes where the k-th label c is) and written with
:func:`hybridnas.data.idx.write_idx`, so hybridnas then reads them as it reads a download::

    python benchmarks/fashion_mnist_from_pngs.py PNGS LABELS_FOLDER OUT
    hybridnas search fashion_mnist --set data.path=OUT

The label files are checked (MD5 against the published sums) and copied; the class counts of
the PNGs must equal those of the label files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    from PIL import Image

    from hybridnas.data.fetch import md5sum
    from hybridnas.data.idx import FASHION_MNIST, read_idx, write_idx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pngs", type=Path, help="folder with train/ and test/, one sub-folder per label")
    ap.add_argument("labels", type=Path, help="folder with the official *-labels-idx1-ubyte.gz files")
    ap.add_argument("out", type=Path, help="folder to write the four .gz files to")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        label_file = args.labels / f"{prefix}-labels-idx1-ubyte.gz"
        digest = md5sum(label_file)
        if digest != FASHION_MNIST.md5[label_file.name]:
            sys.exit(f"{label_file}: MD5 {digest} is not the published {FASHION_MNIST.md5[label_file.name]}")
        labels = read_idx(label_file)
        files = {c: sorted((args.pngs / split / str(c)).glob("*.png")) for c in range(10)}
        counts = np.bincount(labels, minlength=10)
        have = [len(files[c]) for c in range(10)]
        if list(counts) != have:
            sys.exit(f"{split}: PNGs per class {have} differ from the label file's {list(counts)}")
        images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
        nxt = [0] * 10
        for i, c in enumerate(labels):
            with Image.open(files[c][nxt[c]]) as im:
                images[i] = np.asarray(im.convert("L"))
            nxt[c] += 1
        write_idx(args.out / f"{prefix}-images-idx3-ubyte.gz", images)
        shutil.copyfile(label_file, args.out / label_file.name)
        back = read_idx(args.out / f"{prefix}-images-idx3-ubyte.gz")
        assert np.array_equal(back, images)
        print(f"{split}: {len(labels):,} images, {counts.tolist()} per class, mean pixel {images.mean():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
