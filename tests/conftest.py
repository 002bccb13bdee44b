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
