import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "tests" / "spaces" / "tiny.yaml")

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tiny_space():
    return TINY


@pytest.fixture(scope="session")
def digits():
    from hybridnas.config import DataConfig
    from hybridnas.data import load_dataset

    return load_dataset(DataConfig(dataset="digits"), seed=0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished search on the tiny space, shared by the session: copy it before changing it."""
    from hybridnas.cli.main import main

    out = tmp_path_factory.mktemp("shared-runs")
    assert main(["search", TINY, "--out", str(out), "--name", "tiny", "--quiet", "--no-export"]) == 0
    return out / "tiny"


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the shared tiny run, free to pick, export, train and report in."""
    import shutil

    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst
