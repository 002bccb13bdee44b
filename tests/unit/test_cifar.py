"""CIFAR-10/100 from the binary version, read natively: files written here in the exact record
layout of the authors' distribution (label byte(s), then the R, G and B planes row by row)."""

import dataclasses
import hashlib
import io
import tarfile

import numpy as np
import pytest

from hybridnas.config import DataConfig
from hybridnas.data import cifar, load_dataset
from hybridnas.errors import UserError


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)


def _records(images, *label_columns):
    labels = np.stack(label_columns, axis=1).astype(np.uint8)
    return np.concatenate([labels, images.reshape(len(images), -1)], axis=1).tobytes()


def write_cifar10(folder, per_file=30, seed=0):
    """The five training batches and the test batch; returns {file: (images, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for i, name in enumerate(cifar.CIFAR10.train + cifar.CIFAR10.test):
        x, y = _images(per_file, seed + i), np.arange(per_file) % 10
        (folder / name).write_bytes(_records(x, y))
        made[name] = (x, y)
    return made


def test_cifar10_records_are_read_plane_by_plane(tmp_path):
    made = write_cifar10(tmp_path / "cifar-10-batches-bin")
    # one image with known planes: R = row, G = column, B = 7
    r, c = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    known = np.stack([r, c, np.full_like(r, 7)])[None].astype(np.uint8)
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(_records(known, [3]))
    x, y, x_test, y_test = cifar.load(DataConfig(dataset="cifar10", path=str(tmp_path)), cifar.CIFAR10)
    assert x.shape == (150, 3, 32, 32) and x.dtype == np.uint8 and y.tolist() == [i % 10 for i in range(30)] * 5
    assert np.array_equal(x[:30], made["data_batch_1.bin"][0]) and np.array_equal(x[120:], made["data_batch_5.bin"][0])
    assert y_test.tolist() == [3]
    assert np.array_equal(x_test[0, 0], r) and np.array_equal(x_test[0, 1], c) and (x_test[0, 2] == 7).all()


def test_cifar10_through_load_dataset_with_the_official_test_split(tmp_path):
    write_cifar10(tmp_path / "cifar-10-batches-bin")
    d = load_dataset(DataConfig(dataset="cifar10", path=str(tmp_path), val_fraction=0.2), seed=0)
    assert d.in_chans == 3 and d.image_size == (32, 32) and d.num_classes == 10
    assert len(d.test) == 30 and len(d.train) + len(d.val) == 150 and len(d.val) == 30
    assert abs(float(d.train.x.mean())) < 1e-4  # normalised with the training split's statistics
    # data.path may also name the data folder itself
    again = load_dataset(DataConfig(dataset="cifar10", path=str(tmp_path / "cifar-10-batches-bin")), seed=0)
    assert (again.test.x == d.test.x).all()


def test_cifar100_uses_the_fine_label(tmp_path):
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    fine = np.arange(200) % 100
    (folder / "train.bin").write_bytes(_records(_images(200, 1), fine // 5, fine))
    (folder / "test.bin").write_bytes(_records(_images(100, 2), np.arange(100) // 5, np.arange(100)))
    x, y, x_test, y_test = cifar.load(DataConfig(dataset="cifar100", path=str(tmp_path)), cifar.CIFAR100)
    assert y.tolist() == fine.tolist() and y_test.tolist() == list(range(100)) and x.shape == (200, 3, 32, 32)


def test_damaged_or_missing_data_is_one_clear_line(tmp_path):
    cfg = DataConfig(dataset="cifar10", path=str(tmp_path))
    with pytest.raises(UserError, match=r"cifar10 not found under .*data\.download=true"):
        load_dataset(cfg, seed=0)
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar10(folder)
    cut = folder / "data_batch_3.bin"
    cut.write_bytes(cut.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"data_batch_3\.bin' is 92,090 bytes, not a whole number .* download it again"):
        load_dataset(cfg, seed=0)
    write_cifar10(folder)
    (folder / "test_batch.bin").write_bytes(_records(_images(2, 0), [4, 12]))
    with pytest.raises(UserError, match="holds label 12, but cifar10 has 10 classes"):
        load_dataset(cfg, seed=0)


def test_python_version_without_torchvision_names_both_ways_out(tmp_path):
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchvision is installed")
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(UserError, match=r"hybridnas\[vision\].*binary version.*data\.download=true"):
        load_dataset(DataConfig(dataset="cifar10", path=str(tmp_path)), seed=0)


def _archive(tmp_path, members):
    """A .tar.gz of ``{name: bytes}``; returns (file:// URL, md5)."""
    path = tmp_path / "served" / "cifar-10-binary.tar.gz"
    path.parent.mkdir(exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.as_uri(), hashlib.md5(path.read_bytes()).hexdigest()


def test_download_checks_the_md5_and_extracts_only_the_data_folder(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_cifar10(src)
    members = {f"cifar-10-batches-bin/{f.name}": f.read_bytes() for f in sorted(src.iterdir())}
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    members["elsewhere.txt"] = b"not extracted"
    url, md5 = _archive(tmp_path, members)
    data = tmp_path / "data"
    cfg = DataConfig(dataset="cifar10", path=str(data), download=True)

    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(cifar.CIFAR10, url=url, md5="0" * 32))
    with pytest.raises(UserError, match=f"has MD5 {md5}, not the published 0{{32}}: the download is damaged"):
        load_dataset(cfg, seed=0)
    assert [p.name for p in data.iterdir()] == [], "a damaged download left files behind"

    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(cifar.CIFAR10, url=url, md5=md5))
    d = load_dataset(cfg, seed=0)
    assert len(d.test) == 30 and d.num_classes == 10
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-bin"]
    assert (data / "cifar-10-batches-bin" / "batches.meta.txt").exists()
    # found on disk the next time: nothing is downloaded
    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(cifar.CIFAR10, url="file:///nowhere.tar.gz"))
    assert len(load_dataset(cfg, seed=0).test) == 30


def test_download_refuses_unsafe_paths_and_reports_an_unreachable_server(tmp_path, monkeypatch):
    url, md5 = _archive(tmp_path, {"cifar-10-batches-bin/../../evil.bin": b"x"})
    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(cifar.CIFAR10, url=url, md5=md5))
    cfg = DataConfig(dataset="cifar10", path=str(tmp_path / "data"), download=True)
    with pytest.raises(UserError, match="unsafe path"):
        load_dataset(cfg, seed=0)
    assert not (tmp_path / "evil.bin").exists() and list((tmp_path / "data").iterdir()) == []
    monkeypatch.setattr(cifar, "CIFAR10",
                        dataclasses.replace(cifar.CIFAR10, url=(tmp_path / "missing.tar.gz").as_uri()))
    with pytest.raises(UserError, match="could not download .*fetch it by hand"):
        load_dataset(cfg, seed=0)


def test_a_broken_archive_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    url, _ = _archive(tmp_path, {"cifar-10-batches-bin/test_batch.bin": bytes(3073 * 50)})
    served = tmp_path / "served" / "cifar-10-binary.tar.gz"
    served.write_bytes(served.read_bytes()[:200])  # cut short, but published with that MD5
    md5 = hashlib.md5(served.read_bytes()).hexdigest()
    monkeypatch.setattr(cifar, "CIFAR10", dataclasses.replace(cifar.CIFAR10, url=url, md5=md5))
    with pytest.raises(UserError, match="cannot extract cifar-10-binary.tar.gz"):
        load_dataset(DataConfig(dataset="cifar10", path=str(tmp_path / "data"), download=True), seed=0)
    assert list((tmp_path / "data").iterdir()) == []
