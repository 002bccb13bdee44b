"""Every registered block strategy, on a tiny supernet: a step moves the architecture, and
derivation gives a valid genotype. Strategy-specific checks follow."""

import io

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


# Options that let a strategy's first architecture update happen within a few tiny epochs.
FAST = {
    "ddpnas": {"rounds": 1, "subnet_steps": 1},
    "shrink": {"children": 8, "keep": 2},
    "cdarts": {"warmup_steps": 1},
}


def _probs(s):
    return {k: s.probabilities(k).detach().cpu().clone() for k in KINDS}


def _assert_same(a, b, where="state"):
    """Nested dicts/lists of tensors and plain values are equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a.cpu(), b.cpu()), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def _through_disk(obj):
    """What the stage's checkpoint gives back: torch.save, then a weights-only load."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def run_epochs(s, batch, epochs=3, steps=2, stop_on_change=True):
    """Drive ``s`` as the stage does; return the probabilities before and after."""
    before = _probs(s)
    s.begin_search(0, epochs, steps)
    for epoch in range(epochs):
        s.begin_epoch(epoch, epochs)
        for _ in range(steps):
            m = s.step(batch(), batch())
            assert all(v == v for v in m.values())  # no NaN
        s.end_epoch()
        after = _probs(s)
        if stop_on_change and any(not torch.allclose(before[k], after[k]) for k in KINDS):
            break
    return before, after


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_a_step_changes_the_architecture_and_derive_is_valid(name):
    s, net, batch = setup(name, FAST.get(name))
    before, after = run_epochs(s, batch)
    assert any(not torch.allclose(before[k], after[k]) for k in KINDS)
    for k in KINDS:  # probabilities of ops removed from the space are 0
        assert (after[k][~net.mask(k).cpu()] == 0).all()
    g = s.derive()
    assert isinstance(g, BlockGenotype)
    assert BlockGenotype.parse(g.to_string()) == g
    for cell in (g.normal, g.reduce):
        assert all(op in OPS for op in cell.ops())
        assert cell.n_nodes == net.nodes


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_state_round_trips_and_resumes_identically(name):
    """A strategy rebuilt from (supernet state, strategy state) takes the very same next step."""
    s, net, batch = setup(name, FAST.get(name))
    run_epochs(s, batch, epochs=1, stop_on_change=False)
    state = _through_disk(s.state_dict())
    s2, net2, _ = setup(name, FAST.get(name))
    net2.load_state_dict(_through_disk(net.state_dict()))
    s2.begin_search(0, 1, 2)
    s2.load_state_dict(state)
    _assert_same(s2.state_dict(), state)
    _assert_same(_probs(s2), _probs(s))
    assert s2.derive() == s.derive()
    g = torch.Generator().manual_seed(5)
    b1 = (torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))
    b2 = (torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g))
    for strategy in (s, s2):
        strategy.begin_epoch(1, 2)
        strategy.step(b1, b2)
    _assert_same(_probs(s2), _probs(s), "probabilities after a step")
    for p, q in zip(net.parameters(), net2.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_darts_second_order_runs_and_restores_weights():
    s, net, batch = setup("darts", {"order": 2})
    w_before = [p.detach().clone() for p in net.weight_parameters()]
    s.arch_step(batch(), batch())
    assert all(torch.equal(a, b) for a, b in zip(w_before, net.weight_parameters()))
    assert all(a.grad is not None for a in net.arch_parameters())
