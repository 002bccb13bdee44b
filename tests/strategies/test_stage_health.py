"""The block stage on digits: a starved supernet is reported (run output, member file, report),
a normal one is not; skip_stop counts skips before the collapse guard caps them; the alpha log
carries entropies against their uniform value."""

import io
import json
import math

import pytest

from hybridnas.block.stage import BlockStage, alpha_history
from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.progress import Progress
from hybridnas.store import RunStore

# a small supernet on the whole digits dataset: seconds per search on one thread
SMALL = ["threads=1", "block.width=4", "block.cells=3", "cell.nodes=2",
         "cell.ops=[max_pool_3x3, skip_connect, sep_conv_3x3]", "block.library=[{lam: 0.0}]"]
NORMAL = SMALL + ["block.warmup_epochs=1", "block.epochs=2"]
STARVED = SMALL + ["block.warmup_epochs=0", "block.epochs=2", "block.lr=1e-4", "block.lr_min=1e-5",
                   "block.arch_lr=1e-5"]


@pytest.fixture(scope="module")
def digits_data():
    cfg = load_config("digits")
    return load_dataset(cfg.data, cfg.seed)


def run_stage(tmp_path, data, overrides, quiet=True):
    import torch

    from hybridnas.device import configure

    cfg = load_config("digits", overrides)
    configure("cpu", cfg.deterministic, cfg.threads)  # one thread: two collapse on a busy machine
    torch.manual_seed(0)
    out = io.StringIO()
    store = RunStore(tmp_path / "run")
    BlockStage(cfg, data, store, "cpu", Progress(stream=out, quiet=quiet)).run()
    return cfg, store, out.getvalue()


@pytest.fixture(scope="module")
def starved(tmp_path_factory, digits_data):
    return run_stage(tmp_path_factory.mktemp("starved"), digits_data, STARVED, quiet=False)


def test_a_starved_supernet_is_reported_and_a_normal_one_is_not(tmp_path, digits_data, starved):
    _, store, out = starved
    assert "stayed near chance" in out and "block.warmup_epochs" in out and "block.lr" in out
    assert "stayed near uniform" in out and "block.arch_lr" in out
    member = store.read_json("block/member_0.json")
    assert len(member["health"]) == 2

    _, store, out = run_stage(tmp_path / "normal", digits_data, NORMAL, quiet=False)
    assert "block search 1/1" in out and "warning" not in out
    assert store.read_json("block/member_0.json")["health"] == []


def test_the_alpha_log_gives_entropies_with_their_uniform_value(tmp_path, digits_data):
    _, store, _ = run_stage(tmp_path, digits_data, SMALL + ["block.warmup_epochs=0", "block.epochs=1"])
    [rec] = alpha_history(store)
    for kind in ("normal", "reduce"):
        assert rec[kind]["max_entropy"] == pytest.approx(math.log(3))  # per edge, over the 3 ops
        assert 0 < rec[kind]["entropy"] <= rec[kind]["max_entropy"] + 1e-9
        assert 0 <= rec[kind]["margin"] < 1


def test_skip_stop_counts_skips_before_the_cap(tmp_path, digits_data):
    """With alpha fixed on skip_connect, the cell the search prefers is all skips; the guard
    caps the derived cell at max_parameter_free, and skip_stop still fires on the first epoch."""
    import torch

    from hybridnas.block import stage as stage_mod
    from hybridnas.device import configure

    original = stage_mod.BlockStage._member_alpha

    def all_skip(self, alpha, overrides, kind):
        a = original(self, alpha, overrides, kind).clone()
        a[:, 1] = 10.0  # skip_connect dominates every edge
        return a

    over = SMALL + ["block.warmup_epochs=0", "block.epochs=3", "block.arch_lr=1e-6", "block.max_parameter_free=2",
                    "block.skip_stop=3"]
    cfg = load_config("digits", over)
    configure("cpu", cfg.deterministic, cfg.threads)
    torch.manual_seed(0)
    store = RunStore(tmp_path / "run")
    stage = BlockStage(cfg, digits_data, store, "cpu", Progress(quiet=True))
    stage._member_alpha = all_skip.__get__(stage)
    stage.run()
    member = store.read_json("block/member_0.json")
    assert member["stopped_early"] and member["epochs_run"] == 1
    [rec] = alpha_history(store)
    assert rec["unguarded"].split(";")[0].count("skip_connect") == 4
    assert rec["genotype"].split(";")[0].count("skip_connect") <= 2


def test_the_report_has_a_block_health_section(starved):
    from hybridnas.config import dump_yaml
    from hybridnas.pipeline import manifest
    from hybridnas.report import _block_health
    from hybridnas.results import RunResults

    cfg, store, _ = starved
    # what RunResults needs besides the block stage's files
    store.write_text("config.yaml", dump_yaml(cfg))
    store.write_json("manifest.json", manifest(cfg, "cpu"))
    store.write_json("dataset.json", {"num_classes": 10})
    blocks = _block_health(RunResults(store.root))
    assert blocks[0] == ("h", 2, "Block-stage health")
    text = json.dumps(blocks)
    assert "member 0: warning: the supernet's training accuracy stayed near chance" in text
    assert "stayed near uniform" in text
