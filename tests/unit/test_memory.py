import pytest
import torch

from hybridnas.block.memory import MemoryEstimate, estimate, fit_batch_size
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import Supernet
from hybridnas.config import load_config
from hybridnas.errors import UserError


def strategy():
    cfg = load_config(None, ["block.library=[{}]"])
    torch.manual_seed(0)
    net = Supernet(("skip_connect", "sep_conv_3x3"), 2, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy("enhanced", net, cfg.block, {}), net


def test_estimate_scales_with_batch_and_leaves_state_alone():
    s, net = strategy()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    est = estimate(s, (1, 8, 8), 10, batch_size=64)
    assert est.activation_bytes_per_sample > 0 and est.state_bytes > 0
    assert est.total(128) - est.total(64) == pytest.approx(64 * est.activation_bytes_per_sample)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_batch_is_halved_until_it_fits_or_refused():
    est = MemoryEstimate(batch_size=64, activation_bytes_per_sample=2**20, state_bytes=0)
    assert fit_batch_size(est, "cpu", limit_gb=1.0) == (64, None)
    b, note = fit_batch_size(est, "cpu", limit_gb=20 / 1024)  # 20 MiB
    assert b == 16 and "batch reduced to 16" in note
    with pytest.raises(UserError, match="lower block.width"):
        fit_batch_size(est, "cpu", limit_gb=4 / 1024)
