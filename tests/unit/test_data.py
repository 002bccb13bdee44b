import numpy as np
import pytest
import torch

from hybridnas.config import DataConfig
from hybridnas.data import batches, build_dataset, load_dataset, random_crop_flip, cutout
from hybridnas.errors import UserError


def test_digits_split_is_stratified_disjoint_and_seeded(digits):
    d = digits
    assert d.num_classes == 10 and d.in_chans == 1 and d.image_size == (8, 8)
    assert len(d.train) + len(d.val) + len(d.test) == 1797
    for split in (d.val, d.test):
        counts = torch.bincount(split.y, minlength=10)
        assert counts.min() >= 34 and counts.max() <= 37
    again = load_dataset(DataConfig(dataset="digits"), seed=0)
    assert torch.equal(again.val.x, d.val.x)
    other = load_dataset(DataConfig(dataset="digits"), seed=1)
    assert not torch.equal(other.val.y, d.val.y)
    # disjoint: no test image equals a training image row-for-row (digits has few exact duplicates)
    tr = {tuple(r) for r in d.train.x.flatten(1).numpy().round(4).tolist()}
    overlap = sum(tuple(r) in tr for r in d.test.x.flatten(1).numpy().round(4).tolist())
    assert overlap <= 3


def test_train_statistics_normalise(digits):
    x = digits.train.x
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 0.05


def test_subset_and_halves(digits):
    d = load_dataset(DataConfig(dataset="digits", subset=200), seed=0)
    assert len(d.train) == 200 or abs(len(d.train) - 200) <= 10
    a, b = d.train.halves(0)
    assert len(a) + len(b) == len(d.train)


def test_npz_loader_with_and_without_test(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(120, 6, 6, 3), dtype=np.uint8)
    y = np.repeat(np.arange(3), 40)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    d = load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "a.npz")), seed=0)
    assert d.in_chans == 3 and d.image_size == (6, 6) and d.num_classes == 3 and d.scale == 255.0
    np.savez(tmp_path / "b.npz", x=x, y=y, x_test=x[:10], y_test=y[:10])
    d = load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "b.npz")), seed=0)
    assert len(d.test) == 10


def test_folder_loader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    d = load_dataset(DataConfig(dataset="folder", path=str(tmp_path)), seed=0)
    assert d.num_classes == 2 and d.in_chans == 3 and d.image_size == (5, 5)


@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.zeros((0, 4, 4)), np.zeros(0, int), "empty"),
        (np.zeros((10, 4)), np.zeros(10, int), "shape"),
        (np.zeros((10, 4, 4)), np.arange(10) - 1, "out of range"),
        (np.zeros((10, 4, 4)), np.zeros(9, int), "one label per image"),
        (np.full((10, 4, 4), np.nan), np.arange(10) % 2, "NaN"),
        (np.zeros((10, 4, 4)), np.zeros(10, int), "single class"),
        (np.zeros((10, 4, 4)), np.linspace(0, 1, 10), "integers"),
    ],
)
def test_malformed_arrays_give_one_clear_error(x, y, match):
    with pytest.raises(UserError, match=match):
        build_dataset("t", x, y, val_fraction=0.2, test_fraction=0.2, seed=0)


def test_missing_files(tmp_path):
    with pytest.raises(UserError, match="needs data.path"):
        load_dataset(DataConfig(dataset="npz"), seed=0)
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "nope.npz")), seed=0)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a .npz archive"):
        load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "bad.npz")), seed=0)
    np.savez(tmp_path / "noy.npz", x=np.zeros((4, 4, 4)))
    with pytest.raises(UserError, match="lacks array"):
        load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "noy.npz")), seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no class sub-folders"):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "empty")), seed=0)


def test_batches_cover_split_once_and_augment_keeps_shape(digits):
    seen = torch.cat([y for _, y in batches(digits.val, 50, shuffle=True, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == sorted(digits.val.y.tolist())
    x = digits.train.x[:16]
    assert random_crop_flip(x, torch.Generator().manual_seed(0)).shape == x.shape
    cut = cutout(torch.ones(4, 1, 8, 8), 4, torch.Generator().manual_seed(0))
    assert (cut == 0).any() and cut.shape == (4, 1, 8, 8)
