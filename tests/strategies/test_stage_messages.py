"""What the block stage says: skip_stop at a member's last epoch is no early stop, and the
health summary tells a decided search from one whose op probabilities moved little."""

import io
import math

import pytest

from hybridnas.block.health import WEAK_ENTROPY, summary_line
from hybridnas.block.stage import BlockStage
from hybridnas.config import load_config
from hybridnas.progress import Progress
from hybridnas.store import RunStore
from tests.strategies.test_stage_health import SMALL, digits_data  # noqa: F401 (a fixture)


def test_skip_stop_on_the_last_epoch_is_not_an_early_stop(tmp_path, digits_data):  # noqa: F811
    import torch

    from hybridnas.block import stage as stage_mod
    from hybridnas.device import configure

    original = stage_mod.BlockStage._member_alpha

    def all_skip(self, alpha, overrides, kind):
        a = original(self, alpha, overrides, kind).clone()
        a[:, 1] = 10.0  # skip_connect dominates every edge
        return a

    cfg = load_config("digits", SMALL + ["block.warmup_epochs=0", "block.epochs=1", "block.arch_lr=1e-6",
                                         "block.max_parameter_free=2", "block.skip_stop=3"])
    configure("cpu", cfg.deterministic, cfg.threads)
    torch.manual_seed(0)
    store = RunStore(tmp_path / "run")
    out = io.StringIO()
    stage = BlockStage(cfg, digits_data, store, "cpu", Progress(stream=out))
    stage._member_alpha = all_skip.__get__(stage)
    stage.run()
    text = out.getvalue()
    assert "epoch 1 was this member's last anyway" in text and "early" not in text
    member = store.read_json("block/member_0.json")
    assert member["stopped_early"] is False and member["epochs_run"] == 1


def _records(share: float, margin: float):
    h = math.log(3)
    kind = {"entropy": share * h, "max_entropy": h, "margin": margin}
    return [{"train_acc": 0.95, "ops": ["max_pool_3x3", "skip_connect", "sep_conv_3x3"], "normal": dict(kind),
             "reduce": dict(kind)}]


@pytest.mark.parametrize("share", [0.94, 0.99])
def test_entropy_near_uniform_is_not_called_learned(share):
    line = summary_line(_records(share, 0.12), 10)
    assert share >= WEAK_ENTROPY and line.startswith("passed the checks, but the op probabilities moved little")
    assert f"{100 * share:.0f} % of uniform's" in line and "learned" not in line


def test_a_decided_search_is_called_decided():
    line = summary_line(_records(0.5, 0.6), 10)
    assert line.startswith("the search learned and its op probabilities decided") and "50 % of uniform's" in line
