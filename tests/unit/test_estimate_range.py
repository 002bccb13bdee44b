"""The estimate is a range (fastest to slowest timing, times the machine's load), and the
network stage's range widens by the pace the block stage kept."""

import pytest
import torch

from hybridnas.config import load_config
from hybridnas.data import load_dataset
from hybridnas.estimate import Estimate, describe, estimate, format_range, load_factor, pace_of
from hybridnas.store import RunStore
from tests.conftest import TINY


def test_the_estimate_is_a_range_around_its_point(tmp_path):
    cfg = load_config(TINY)
    data = load_dataset(cfg.data, cfg.seed)
    est = estimate(cfg, data, RunStore(tmp_path / "run"), torch.device("cpu"))
    for point, (lo, hi) in ((est.block_s, est.block_range), (est.network_s, est.network_range)):
        assert 0 < lo <= point <= hi
    lo, hi = est.total_range
    assert lo <= est.total_s <= hi and hi >= est.total_s * 1.0
    j = est.to_json()
    assert j["total_range_s"] == [lo, hi] and j["load_factor"] >= 1.0
    line = describe(est)
    assert line.startswith(f"estimate: {format_range((lo, hi))}: block stage ")


def test_the_block_stage_pace_widens_the_network_range():
    est = Estimate(None, 100.0, {"networks_at_most": 10, "candidate_s": 10.0, "workers": 1, "library": "derived"},
                   None, (80.0, 130.0))
    assert describe(est, again=True).startswith("estimate with the derived blocks: network stage 1-2 min")
    slow = describe(est, again=True, pace=2.5)
    assert "network stage 1-4 min" in slow and "the block stage took 2.5x its estimate" in slow
    assert pace_of({"block_stage_s": 10.0}, 25.0) == pytest.approx(2.5) and pace_of(None, 3.0) is None


def test_spans_read_in_one_unit():
    assert format_range((5, 100)) == "5.0 s - 2 min" and format_range((20, 45)) == "20-45 s"
    assert format_range((120, 540)) == "2-9 min" and format_range((3.2, 3.2)) == "~3.2 s"
    assert load_factor() >= 1.0
