import numpy as np
import pytest
import torch

from hybridnas.config import DataConfig
from hybridnas.data import batches, build_dataset, cutout, load_dataset, random_crop_flip
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



def _images(folder, shape, n=6, dtype=np.uint8, high=255):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, high, shape, dtype=dtype)).save(folder / f"{i}.png")


def test_folder_test_split_with_a_class_train_lacks_is_an_error(tmp_path):
    for split, classes in (("train", "ab"), ("test", "ac")):
        for c in classes:
            _images(tmp_path / split / c, (5, 5, 3))
    with pytest.raises(UserError, match=r"class folder\(s\) c that .* lacks; add them to the train split or remove"):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path)), seed=0)
    # test classes a subset of the train classes are fine, labelled with the train indices
    for f in (tmp_path / "test" / "c").iterdir():
        f.unlink()
    (tmp_path / "test" / "c").rmdir()
    _images(tmp_path / "train" / "c", (5, 5, 3))
    (tmp_path / "test" / "a").rename(tmp_path / "test" / "b")
    d = load_dataset(DataConfig(dataset="folder", path=str(tmp_path)), seed=0)
    assert d.num_classes == 3 and set(d.test.y.tolist()) == {1}


def test_folder_16_bit_png_is_scaled_not_wrapped(tmp_path):
    from PIL import Image


    for c in "ab":
        (tmp_path / c).mkdir()
        for i in range(6):
            a = np.array([[0, 257, 256 * 200, 65535]] * 4, dtype=np.uint16)
            Image.fromarray(a).save(tmp_path / c / f"{i}.png")
    with Image.open(tmp_path / "a" / "0.png") as im:
        assert im.mode.startswith("I")  # PIL reads it back as 16-bit
    cfg = DataConfig(dataset="folder", path=str(tmp_path))
    d = load_dataset(cfg, seed=0)
    raw = d.train.x[0, 0] * d.std[0] + d.mean[0]  # undo the normalisation: pixels / 255
    assert np.allclose(raw[0].numpy() * 255, [0, 1, 199, 255], atol=1e-3)
    assert d.in_chans == 1


def test_folder_mixed_grayscale_and_rgb_loads_as_rgb(tmp_path):
    _images(tmp_path / "flat" / "a", (5, 5))
    _images(tmp_path / "flat" / "b", (5, 5, 3))
    d = load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "flat")), seed=0)
    assert d.in_chans == 3 and d.image_size == (5, 5)
    # across splits too: grayscale train, colour test
    _images(tmp_path / "s" / "train" / "a", (5, 5))
    _images(tmp_path / "s" / "train" / "b", (5, 5))
    _images(tmp_path / "s" / "test" / "a", (5, 5, 3), n=2)
    d = load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "s")), seed=0)
    assert d.in_chans == 3 and d.test.x.shape[1] == 3
    # images of other sizes still need data.image_size, and the message is about sizes only
    _images(tmp_path / "flat" / "c", (6, 7))
    with pytest.raises(UserError, match=r"differ in size \(5x5, 6x7\); set data.image_size"):
        load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "flat")), seed=0)


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


# ------------------------------------------------------------------ image size, caps, final training data


def test_image_size_resizes_every_source(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(60, 12, 12), dtype=np.uint8)
    y = np.arange(60) % 3
    np.savez(tmp_path / "a.npz", x=x, y=y, x_test=x[:9], y_test=y[:9])
    d = load_dataset(DataConfig(dataset="npz", path=str(tmp_path / "a.npz"), image_size=6), seed=0)
    assert d.image_size == (6, 6) and d.train.x.shape[1:] == (1, 6, 6) and d.test.x.shape[1:] == (1, 6, 6)
    assert load_dataset(DataConfig(dataset="digits", image_size=16), seed=0).image_size == (16, 16)
    # a folder of images in two sizes: each resized as it is read, the same way
    for c, side in (("a", 12), ("b", 9)):
        (tmp_path / "f" / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (side, side), dtype=np.uint8)).save(tmp_path / "f" / c / f"{i}.png")
    assert load_dataset(DataConfig(dataset="folder", path=str(tmp_path / "f"), image_size=6),
                        seed=0).image_size == (6, 6)


def test_resize_averages_when_shrinking_and_keeps_the_value_range():
    from hybridnas.data.raw import resize_images

    x = np.zeros((2, 1, 4, 4), dtype=np.uint8)
    x[0, 0, :2, :2] = 200  # one bright 2x2 block: its 1x1 image after halving is the block's mean
    small = resize_images(x, (2, 2))
    assert small.dtype == np.float32 and small.shape == (2, 1, 2, 2)
    assert small[0, 0].tolist() == [[200, 0], [0, 0]] and small[1].max() == 0
    assert resize_images(x, (4, 4)) is x  # nothing to do
    big = resize_images(x.astype(np.float32), (8, 8))
    assert big.shape == (2, 1, 8, 8) and 0 <= big.min() and big.max() <= 200 + 1e-3


def test_caps_take_stratified_parts_of_the_uncapped_splits():
    full = load_dataset(DataConfig(dataset="digits"), seed=0)
    capped = load_dataset(DataConfig(dataset="digits", subset=300, val_subset=100, test_subset=50), seed=0)
    assert (len(capped.train), len(capped.val), len(capped.test)) == (300, 100, 50)
    for part, whole in ((capped.val, full.val), (capped.test, full.test)):
        assert torch.bincount(part.y, minlength=10).min() >= 4  # every class kept
        rows = {tuple(r) for r in (whole.x * full.std[0] + full.mean[0]).flatten(1).numpy().round(3).tolist()}
        mine = (part.x * capped.std[0] + capped.mean[0]).flatten(1).numpy().round(3).tolist()
        assert all(tuple(r) in rows for r in mine)  # a part of the full split, not other images
    with pytest.raises(UserError, match="val_subset"):
        from hybridnas.config import load_config

        load_config("digits", ["data.val_subset=0"])


def test_merge_val_trains_on_both_splits_and_leaves_the_test_split_alone():
    plain = load_dataset(DataConfig(dataset="digits", subset=200), seed=0)
    merged = load_dataset(DataConfig(dataset="digits"), seed=0, merge_val=True)
    assert len(merged.val) == 0 and len(merged.train) == 1797 - len(plain.test)
    assert torch.equal(merged.test.y, plain.test.y)  # the same seeded test split as the search's
    raw = lambda d, s: (s.x * d.std[0] + d.mean[0]).flatten(1).numpy().round(3)  # noqa: E731
    test_rows = {tuple(r) for r in raw(plain, plain.test).tolist()}
    assert np.allclose(raw(plain, plain.test), raw(merged, merged.test), atol=1e-3)
    overlap = sum(tuple(r) in test_rows for r in raw(merged, merged.train).tolist())
    assert overlap <= 3  # digits has a few exact duplicate images; no test image is trained on
