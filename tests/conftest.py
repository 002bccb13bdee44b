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


# Two blocks of two-node cells for network-stage tests that skip the block stage.
TINY_BLOCKS = (
    "normal:sep_conv_3x3@0+sep_conv_3x3@1|max_pool_3x3@0+skip_connect@1;"
    "reduce:sep_conv_3x3@0+sep_conv_3x3@1|max_pool_3x3@0+max_pool_3x3@2",
    "normal:max_pool_3x3@0+skip_connect@1|skip_connect@2+max_pool_3x3@1;"
    "reduce:max_pool_3x3@0+max_pool_3x3@1|skip_connect@2+max_pool_3x3@1",
)


def tiny_library():
    from hybridnas.space.genotype import BlockGenotype
    from hybridnas.space.library import LibraryEntry

    return [LibraryEntry(BlockGenotype.parse(g), (i,), ({},), 0, 0, 0, 0) for i, g in enumerate(TINY_BLOCKS)]


def run_network_stage(root, overrides=(), device="cpu"):
    """The network stage of tests/spaces/tiny.yaml on the TINY_BLOCKS library (no block stage)."""
    from hybridnas.config import load_config
    from hybridnas.data import load_dataset
    from hybridnas.device import configure
    from hybridnas.evaluate.base import build_evaluator
    from hybridnas.network.points import NetworkPoints
    from hybridnas.network.stage import NetworkStage
    from hybridnas.space.latency import LatencyTable
    from hybridnas.store import RunStore

    cfg = load_config(TINY, list(overrides))
    configure(device, cfg.deterministic, cfg.threads)
    data = load_dataset(cfg.data, cfg.seed)
    store = RunStore(root)
    store.ensure_writable()
    latency = LatencyTable.from_config(cfg, store, device) if cfg.wants_latency else None
    with build_evaluator(cfg, data, device) as ev:
        stage = NetworkStage(cfg, NetworkPoints(cfg, tiny_library(), data, latency), ev, store)
        result = stage.run()
    return store, stage, result


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


# One fixed block for evaluator tests: candidates then need no block stage.
TEST_CELL = "sep_conv_3x3@0+skip_connect@1|max_pool_3x3@0+sep_conv_3x3@2"


def population(overrides=(), n=4, seed=1):
    """(cfg, data, candidates): ``n`` random networks of the tiny space, built as the search builds them."""
    from hybridnas.config import load_config
    from hybridnas.data import load_dataset
    from hybridnas.network.scheduler import random_candidates
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
