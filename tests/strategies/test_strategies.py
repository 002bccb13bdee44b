"""Every registered block strategy, on a tiny supernet: a step moves the architecture, and
derivation gives a valid genotype. Strategy-specific checks follow."""

import pytest
import torch

from hybridnas.block.strategies import STRATEGIES
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config
from hybridnas.space.genotype import BlockGenotype

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")


def setup(name, options=None, ops=OPS):
    cfg = load_config(None, [f"block.strategy.name={name}", "block.library=[{}]"])
    torch.manual_seed(0)
    net = Supernet(ops, 2, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    s = build_strategy(name, net, cfg.block, options or {})
    g = torch.Generator().manual_seed(0)
    batch = lambda: (torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))
    return s, net, batch


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_a_step_changes_the_architecture_and_derive_is_valid(name):
    s, net, batch = setup(name)
    before = {k: s.probabilities(k).clone() for k in KINDS}
    s.begin_epoch(0, 2)
    for _ in range(2):
        m = s.step(batch(), batch())
        assert all(v == v for v in m.values())  # no NaN
    s.end_epoch()
    after = {k: s.probabilities(k) for k in KINDS}
    assert any(not torch.allclose(before[k], after[k]) for k in KINDS)
    g = s.derive()
    assert isinstance(g, BlockGenotype)
    assert BlockGenotype.parse(g.to_string()) == g
    assert all(op in OPS for op in g.normal.ops())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_state_round_trips(name):
    s, net, batch = setup(name)
    s.begin_epoch(0, 1)
    s.step(batch(), batch())
    state = s.state_dict()
    s2, _, _ = setup(name)
    s2.load_state_dict(state)


def test_darts_second_order_runs_and_restores_weights():
    s, net, batch = setup("darts", {"order": 2})
    w_before = [p.detach().clone() for p in net.weight_parameters()]
    s.arch_step(batch(), batch())
    assert all(torch.equal(a, b) for a, b in zip(w_before, net.weight_parameters()))
    assert all(a.grad is not None for a in net.arch_parameters())
