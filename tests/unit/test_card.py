"""The model card's class names and relative paths."""

from pathlib import Path

from hybridnas.export.card import class_names, relative


def test_class_names_come_from_the_dataset():
    assert class_names({"name": "fashion_mnist", "num_classes": 10})[0] == "T-shirt/top"
    assert class_names({"name": "cifar10", "num_classes": 10})[-1] == "truck"
    assert class_names({"name": "digits", "num_classes": 10}) == [str(i) for i in range(10)]
    assert class_names({"name": "npz", "num_classes": 3}) == ["0", "1", "2"]


def test_an_image_folder_names_its_classes_in_the_readers_order(tmp_path):
    for split in ("train", "test"):
        for c in ("zebra", "cat", ".hidden"):
            (tmp_path / split / c).mkdir(parents=True)
    assert class_names({"name": tmp_path.name, "num_classes": 2}, str(tmp_path)) == ["cat", "zebra"]
    # a folder that no longer matches the run (or is gone): the indices, not wrong names
    assert class_names({"name": "x", "num_classes": 3}, str(tmp_path)) == ["0", "1", "2"]
    assert class_names({"name": "x", "num_classes": 2}, str(tmp_path / "gone")) == ["0", "1"]


def test_paths_are_relative_to_the_run_or_just_a_name(tmp_path):
    assert relative(tmp_path / "run" / "weights" / "a.pt", tmp_path / "run") == "weights/a.pt"
    assert relative(Path("/elsewhere/out/model"), tmp_path / "run") == "model"
    assert relative(None, tmp_path) is None
