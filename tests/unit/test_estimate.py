"""The time estimate shown before a search starts: what it counts, and that it disturbs nothing."""

import json

import numpy as np
import pytest
import torch

from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.estimate import _epochs_per_candidate, describe, estimate, stand_in_blocks
from hybridnas.store import RunStore
from tests.conftest import TINY


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config(TINY)
    return cfg, load_dataset(cfg.data, cfg.seed)


def test_stand_in_blocks_bracket_the_library(tiny):
    cfg, data = tiny
    costly, cheap = stand_in_blocks(load_config("digits"), 1, (8, 8))
    assert {op for op, _ in sum(costly.normal.nodes, ())} == {"sep_conv_3x3"}  # the median of dil3 < sep3 < sep5
    ops = [op for op, _ in sum(cheap.normal.nodes, ())]
    assert sum(op in ("max_pool_3x3", "avg_pool_3x3", "skip_connect") for op in ops) == 2  # max_parameter_free
    assert set(ops) - {"max_pool_3x3", "avg_pool_3x3", "skip_connect"} == {"dil_conv_3x3"}  # the cheapest conv
    costly, cheap = stand_in_blocks(cfg, 1, (8, 8))
    assert costly.normal.n_nodes == cheap.normal.n_nodes == cfg.cell.nodes


def test_successive_halving_counts_the_epochs_of_promoted_candidates_once():
    cfg = load_config("digits", ["evaluation.epochs=6"])
    assert _epochs_per_candidate(cfg) == 6
    cfg = load_config("digits", ["evaluation.epochs=6", "evaluation.fidelity.budgets=[2]",
                                 "evaluation.fidelity.promote=0.5"])
    assert _epochs_per_candidate(cfg) == 2 + 0.5 * 4  # the promoted half continues from epoch 2


def test_what_is_left_is_estimated_and_nothing_random_is_drawn(tiny, tmp_path):
    cfg, data = tiny
    store = RunStore(tmp_path / "run")
    torch.manual_seed(7)
    np.random.seed(7)
    est = estimate(cfg, data, store, torch.device("cpu"))
    after = torch.rand(3), np.random.rand(3)
    torch.manual_seed(7)
    np.random.seed(7)
    assert torch.equal(after[0], torch.rand(3)) and np.array_equal(after[1], np.random.rand(3))
    assert est.block_s > 0 and est.network_s > 0 and est.total_s == est.block_s + est.network_s
    d = est.detail
    assert d["networks_at_most"] == cfg.engine.pop_size * cfg.engine.generations and d["library"] == "stand-in"
    assert d["search_epochs"] == cfg.block.epochs * len(cfg.block.library)
    assert (d["block_steps_per_epoch"] == (len(data.train) // 2) // cfg.block.batch_size
            or d["block_steps_per_epoch"] == 1)
    assert d["step_s_costliest"] > 0 and d["candidate_s"] > 0
    line = describe(est)
    assert line.startswith("estimate: ") and "block stage" in line and "stand-in blocks" in line
    # a resumed run: the block stage is done and two generations are on disk
    from hybridnas.space.library import save_library
    from tests.conftest import tiny_library

    store.ensure_writable()
    save_library(store, tiny_library(), cfg.block.reference_width, cfg.block.cells, cfg.cell.nodes)
    for g in range(2):
        store.write_json(f"generations/gen_{g:03d}.json", {})
    est = estimate(cfg, data, store, torch.device("cpu"))  # the run's library, read from it
    assert est.block_s is None and est.detail["networks_at_most"] == cfg.engine.pop_size * (cfg.engine.generations - 2)
    assert describe(est).startswith("estimate: ") and "stand-in" not in describe(est)
    assert describe(est, again=True).startswith("estimate with the derived blocks: network stage")
    store.write_json(f"generations/gen_{2:03d}.json", {})
    assert estimate(cfg, data, store, torch.device("cpu")).total_s == 0  # nothing left to do


def test_a_cost_model_measured_on_two_networks_orders_them_by_flops(tiny):
    cfg, data = tiny
    from hybridnas.estimate import network_stage

    d = network_stage(cfg, stand_in_blocks(cfg, 1, (8, 8)), (1, 10, (8, 8)), {"train": 300, "val": 100, "test": 100},
                      torch.device("cpu"))
    assert d["step_s_cheapest"] > 0 and d["step_s_costliest"] > 0
    # a candidate costs its steps: epochs x ceil(images / batch), plus a third of a step per evaluated batch
    steps = cfg.evaluation.epochs * -(-300 // cfg.evaluation.batch_size) + 200 / cfg.evaluation.batch_size / 3
    lo, hi = sorted((d["step_s_cheapest"], d["step_s_costliest"]))
    assert lo * steps * 0.999 <= d["candidate_s"] <= hi * steps * 1.001


def test_k_fold_counts_k_trainings_on_the_folds():
    from hybridnas.estimate import network_stage

    cfg = load_config(TINY, ["evaluation.folds=2"])
    d = network_stage(cfg, stand_in_blocks(cfg, 1, (8, 8)), (1, 10, (8, 8)), {"train": 300, "val": 100, "test": 100},
                      torch.device("cpu"))
    # 2 trainings, each on half of train + val (200 images), validating the other half and testing 100
    bs = cfg.evaluation.batch_size
    steps = 2 * (cfg.evaluation.epochs * -(-200 // bs) + (200 + 100) / bs / 3)
    lo, hi = sorted((d["step_s_cheapest"], d["step_s_costliest"]))
    assert lo * steps * 0.999 <= d["candidate_s"] <= hi * steps * 1.001


def test_the_search_prints_the_estimate_and_keeps_it_in_the_summary(tmp_path, capsys):
    from hybridnas.cli.main import main

    assert main(["search", TINY, "--out", str(tmp_path), "--name", "e", "--no-export"]) == 0
    err = capsys.readouterr().err
    first = err.index("estimate: ")
    assert err.index("run ") < first < err.index("block search")
    assert "estimate with the derived blocks: network stage" in err
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    est = summary["estimate"]
    assert est["block_stage_s"] > 0 and est["with_library"]["network_stage_s"] > 0 and summary["network_stage_s"] > 0
