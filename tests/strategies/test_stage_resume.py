"""Every strategy inside the real block stage: a member killed after a checkpoint resumes to the
very same alpha log and derived block as an uninterrupted run."""

from pathlib import Path

import pytest
import torch

from hybridnas.block.stage import BlockStage, alpha_history
from hybridnas.block.strategies import STRATEGIES
from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.store import RunStore
from hybridnas.store.layout import ALPHA_LOG

OPTIONS = {
    "ddpnas": "{name: ddpnas, rounds: 1}",
    "shrink": "{name: shrink, inner: gdas, keep: 2, children: 8}",
    "cdarts": "{name: cdarts, warmup_steps: 1}",
}


class Killed(Exception):
    pass


def stage_cfg(tiny_space, name):
    strategy = OPTIONS.get(name, f"{{name: {name}}}")
    return load_config(tiny_space, [f"block.strategy={strategy}", "block.library=[{}]", "block.epochs=3",
                                    "cell.ops=[max_pool_3x3, skip_connect, sep_conv_3x3]"])


TINY = Path(__file__).resolve().parents[1] / "spaces" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny_data():
    cfg = load_config(str(TINY))
    return load_dataset(cfg.data, cfg.seed)


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_killed_member_resumes_to_the_same_search(name, tiny_space, tiny_data, tmp_path, monkeypatch):
    cfg = stage_cfg(tiny_space, name)
    torch.manual_seed(0)
    full = RunStore(tmp_path / "full")
    [entry] = BlockStage(cfg, tiny_data, full, "cpu").run()

    killed = RunStore(tmp_path / "killed")
    calls = {"n": 0}
    original = BlockStage._log_alpha

    def die_after_first_epoch(self, *a, **kw):
        original(self, *a, **kw)
        calls["n"] += 1
        if calls["n"] == 1:
            raise Killed  # after epoch 0 was checkpointed and logged

    monkeypatch.setattr(BlockStage, "_log_alpha", die_after_first_epoch)
    torch.manual_seed(0)
    with pytest.raises(Killed):
        BlockStage(cfg, tiny_data, killed, "cpu").run()
    monkeypatch.setattr(BlockStage, "_log_alpha", original)
    torch.manual_seed(123)  # the resumed process's global RNG differs; nothing may depend on it
    [resumed] = BlockStage(cfg, tiny_data, killed, "cpu").run()

    assert resumed.genotype == entry.genotype
    a, b = alpha_history(full), alpha_history(killed)
    assert len(a) == len(b) == 3
    for ra, rb in zip(a, b):
        for kind in ("normal", "reduce"):
            assert torch.allclose(torch.tensor(ra[kind]["probs"]), torch.tensor(rb[kind]["probs"]), atol=1e-6)
        assert ra["genotype"] == rb["genotype"]
    assert len(killed.records(ALPHA_LOG)) == 3
