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

# One fixed block for evaluator tests: candidates then need no block stage.
TEST_CELL = "sep_conv_3x3@0+skip_connect@1|max_pool_3x3@0+sep_conv_3x3@2"


def population(overrides=(), n=4, seed=1):
    """(cfg, data, candidates): ``n`` random networks of the tiny space, built as the search builds them."""
    from hybridnas.config import load_config
    from hybridnas.data import load_dataset
    from hybridnas.network.search import random_candidates
    from hybridnas.space.genotype import BlockGenotype

    cfg = load_config(TINY, list(overrides))
    data = load_dataset(cfg.data, cfg.seed)
    blocks = [BlockGenotype.parse(f"normal:{TEST_CELL};reduce:{TEST_CELL}")]
    return cfg, data, random_candidates(cfg, blocks, data, n, seed)


def metrics(results):
    """What must agree between backends: the measured numbers, per candidate."""
    return {r["arch_id"]: (r["status"], r.get("val_acc"), r.get("test_acc"), r.get("train_loss")) for r in results}


def pytest_collection_modifyitems(config, items):
    import importlib.util

    import torch

    no_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    no_ray = pytest.mark.skip(reason="needs ray: pip install 'hybridnas[ray]'")
    has_ray = importlib.util.find_spec("ray") is not None
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(no_gpu)
        if "ray" in item.keywords and not has_ray:
            item.add_marker(no_ray)
