"""MNIST, Fashion-MNIST and KMNIST by name: files written here byte by byte in the idx format
of the official distribution (big-endian magic 0x00000803 / 0x00000801, sizes, then the
values; gzipped), never downloaded."""

import dataclasses
import gzip
import hashlib
import struct

import numpy as np
import pytest

from hybridnas.config import DataConfig
from hybridnas.data import idx, load_dataset
from hybridnas.errors import UserError


def images_file(a: np.ndarray) -> bytes:
    """An idx3-ubyte file as LeCun's page describes it: magic 2051, count, rows, columns, pixels."""
    n, h, w = a.shape
    return struct.pack(">IIII", 0x00000803, n, h, w) + a.astype(np.uint8).tobytes()


def labels_file(y: np.ndarray) -> bytes:
    """An idx1-ubyte file: magic 2049, count, labels."""
    return struct.pack(">II", 0x00000801, len(y)) + y.astype(np.uint8).tobytes()


def write_set(folder, n_train=60, n_test=20, size=28, seed=0, gz=True):
    """The four files of a (tiny) MNIST-like dataset; returns the arrays."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n_train, size, size), dtype=np.uint8)
    y = np.arange(n_train) % 10
    xt = rng.integers(0, 256, (n_test, size, size), dtype=np.uint8)
    yt = np.arange(n_test) % 10
    folder.mkdir(parents=True, exist_ok=True)
    for stem, data in (("train-images-idx3-ubyte", images_file(x)), ("train-labels-idx1-ubyte", labels_file(y)),
                       ("t10k-images-idx3-ubyte", images_file(xt)), ("t10k-labels-idx1-ubyte", labels_file(yt))):
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return x, y, xt, yt


def test_the_official_layout_is_read_in_order(tmp_path):
    x, y, xt, yt = write_set(tmp_path / "fashion_mnist")
    # one image with a known pattern: pixel (r, c) = r + c
    r, c = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
    x[3] = (r + c).astype(np.uint8)
    (tmp_path / "fashion_mnist" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_file(x)))
    got = idx.load(DataConfig(dataset="fashion_mnist", path=str(tmp_path)), idx.FASHION_MNIST)
    assert got[0].shape == (60, 28, 28) and got[0].dtype == np.uint8 and np.array_equal(got[0], x)
    assert got[1].tolist() == y.tolist() and got[1].dtype == np.int64
    assert np.array_equal(got[2], xt) and got[3].tolist() == yt.tolist()
    assert np.array_equal(got[0][3], r + c)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "kmnist"])
def test_each_dataset_by_name_with_its_official_test_split(tmp_path, name):
    write_set(tmp_path / name)
    d = load_dataset(DataConfig(dataset=name, path=str(tmp_path), val_fraction=0.2), seed=0)
    assert d.name == name and d.in_chans == 1 and d.image_size == (28, 28) and d.num_classes == 10
    assert len(d.test) == 20 and len(d.train) == 50 and len(d.val) == 10 and d.scale == 255.0


def test_the_files_may_sit_in_the_folder_itself_uncompressed_or_in_torchvisions_layout(tmp_path):
    x, *_ = write_set(tmp_path / "flat", gz=False)
    got = idx.load(DataConfig(dataset="mnist", path=str(tmp_path / "flat")), idx.MNIST)
    assert np.array_equal(got[0], x)
    x, *_ = write_set(tmp_path / "tv" / "KMNIST" / "raw", seed=3)
    got = idx.load(DataConfig(dataset="kmnist", path=str(tmp_path / "tv")), idx.KMNIST)
    assert np.array_equal(got[0], x)


def test_damaged_files_are_one_clear_line(tmp_path):
    folder = tmp_path / "mnist"
    x, y, xt, yt = write_set(folder)
    cfg = DataConfig(dataset="mnist", path=str(tmp_path))
    # cut short, in the data and in the gzip stream
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_file(xt)[:-5]))
    with pytest.raises(UserError,
                       match=r"holds 15,675 bytes of data, but its header promises 15,680 .*download it again"):
        load_dataset(cfg, seed=0)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_file(xt))[:-30])
    with pytest.raises(UserError, match="truncated gzip file"):
        load_dataset(cfg, seed=0)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x00\x00\x08")
    with pytest.raises(UserError, match="not an idx file"):
        load_dataset(cfg, seed=0)
    # images and labels that do not go together, labels out of range
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_file(xt[:7])))
    with pytest.raises(UserError, match=r"t10k images \(7, 28, 28\) and labels \(20,\) do not match"):
        load_dataset(cfg, seed=0)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images_file(xt)))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels_file(yt + 3)))
    with pytest.raises(UserError, match="labels run from 3 to 12, but MNIST has 10 classes"):
        load_dataset(cfg, seed=0)


def test_missing_data_says_where_it_looked_and_how_to_fix_it(tmp_path):
    with pytest.raises(UserError) as e:
        load_dataset(DataConfig(dataset="fashion_mnist", path=str(tmp_path)), seed=0)
    msg = str(e.value)
    assert f"{tmp_path}/fashion_mnist/" in msg and f"{tmp_path}/FashionMNIST/raw/" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "data.download=true" in msg


def test_idx_writer_matches_the_format_byte_for_byte(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    assert idx.idx_bytes(a) == images_file(a)
    assert idx.idx_bytes(np.array([1, 2, 3], dtype=np.uint8)) == labels_file(np.array([1, 2, 3]))
    f = np.arange(6, dtype=np.float32).reshape(2, 3)
    idx.write_idx(tmp_path / "f.gz", f)
    back = idx.read_idx(tmp_path / "f.gz")
    assert back.dtype == np.float32 and np.array_equal(back, f)  # big-endian on disk, native in memory
    with pytest.raises(ValueError):
        idx.idx_bytes(np.zeros(3, dtype=np.uint64))


def _serve(tmp_path, x, y, xt, yt):
    """The four .gz files in a folder served as file:// URLs; returns (mirror URL, md5 per file)."""
    served = tmp_path / "served"
    write_set(served)
    for stem, data in (("train-images-idx3-ubyte", images_file(x)), ("train-labels-idx1-ubyte", labels_file(y)),
                       ("t10k-images-idx3-ubyte", images_file(xt)), ("t10k-labels-idx1-ubyte", labels_file(yt))):
        (served / f"{stem}.gz").write_bytes(gzip.compress(data, mtime=0))
    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in served.iterdir()}
    return served.as_uri() + "/", md5


def _sums(md5):
    return tuple(md5[f"{stem}.gz"] for stem in idx.FILES)


def test_download_checks_each_md5_tries_the_next_mirror_and_stages_the_files(tmp_path, monkeypatch):
    x, y, xt, yt = write_set(tmp_path / "ref")
    url, md5 = _serve(tmp_path, x, y, xt, yt)
    data = tmp_path / "data"
    cfg = DataConfig(dataset="kmnist", path=str(data), download=True)
    bad = dict(md5, **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
    monkeypatch.setattr(idx, "KMNIST", dataclasses.replace(idx.KMNIST, mirrors=(url,), sums=_sums(bad)))
    from hybridnas.data import sources

    with pytest.raises(UserError,
                       match=r"t10k-labels-idx1-ubyte.gz from .* has MD5 [0-9a-f]{32}, not the published 0{32}"):
        sources.SOURCES.get("kmnist")(cfg)
    assert not (data / "kmnist").exists() and [p.name for p in data.iterdir()] == [], "a damaged download left files"
    # the first mirror is unreachable: the next one serves the files
    monkeypatch.setattr(idx, "KMNIST", dataclasses.replace(idx.KMNIST, mirrors=((tmp_path / "gone").as_uri(), url),
                                                           sums=_sums(md5)))
    d = load_dataset(cfg, seed=0)
    assert d.name == "kmnist" and len(d.test) == 20
    assert sorted(p.name for p in (data / "kmnist").iterdir()) == sorted(md5)
    # found the next time: nothing is fetched (an unreachable mirror would fail otherwise)
    monkeypatch.setattr(idx, "KMNIST", dataclasses.replace(idx.KMNIST, mirrors=((tmp_path / "gone").as_uri(),)))
    assert len(load_dataset(cfg, seed=0).test) == 20
    # only what is missing is fetched
    (data / "kmnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match=r"could not download .*t10k-labels-idx1-ubyte\.gz .*fetch Kuzushiji-MNIST's"):
        load_dataset(cfg, seed=0)
    assert sorted(p.name for p in (data / "kmnist").iterdir()) == sorted(set(md5) - {"t10k-labels-idx1-ubyte.gz"})
