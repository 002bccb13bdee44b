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


# ---------------------------------------------------------------- alpha-only architecture gradients

GRADIENT_STRATEGIES = ["darts", "enhanced", "gdas", "egs"]


def _weight_grad_calls(net):
    """Count the gradients autograd computes for the supernet's weights (hooks on each leaf)."""
    calls = [0]
    for p in net.weight_parameters():
        p.register_hook(lambda g: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("name", GRADIENT_STRATEGIES)
def test_arch_step_gradients_equal_backward_into_everything(name):
    """The alpha step asks for alpha's gradient alone: the same gradient as ``backward()`` into
    every weight (what the step did before), and no weight gradient is computed at all."""
    s, net, batch = setup(name)
    ref, ref_net, _ = setup(name)  # same seed: same weights, alpha and sampling generator
    train, val = batch(), batch()
    s.begin_epoch(0, 1)
    ref.begin_epoch(0, 1)
    calls = _weight_grad_calls(net)
    s.arch_step(train, val)
    assert calls[0] == 0
    ref.a_opt.zero_grad(set_to_none=True)
    ref.arch_objective(*val).backward()
    for k in KINDS:
        assert torch.allclose(net.alphas[k].grad, ref_net.alphas[k].grad, atol=1e-7, rtol=1e-5)


def test_cdarts_joint_step_computes_no_search_weight_gradients():
    s, net, batch = setup("cdarts", {"warmup_steps": 1})
    s.begin_search(0, 1, 4)
    s.begin_epoch(0, 1)
    s.arch_step(batch(), batch())  # derives, builds the evaluation network, warms it up one step
    calls = _weight_grad_calls(net)
    before = {k: net.alphas[k].detach().clone() for k in KINDS}
    e_before = [p.detach().clone() for p in s.e_opt.param_groups[0]["params"]]
    s.arch_step(batch(), batch())
    assert calls[0] == 0
    assert any(not torch.equal(before[k], net.alphas[k]) for k in KINDS)
    assert any(not torch.equal(a, b) for a, b in zip(e_before, s.e_opt.param_groups[0]["params"]))


def test_second_order_virtual_step_includes_momentum_and_weight_decay():
    """DARTS's unrolled step moves the weights as their next SGD step would: w - xi (mu m + g + wd w)."""
    import copy

    import torch.nn.functional as F

    s, net, batch = setup("darts", {"order": 2})
    s.begin_epoch(0, 1)
    for _ in range(2):  # momentum buffers exist after real weight steps
        s.weight_step(batch())
    train, val = batch(), batch()
    virtual = copy.deepcopy(net)
    weights = list(net.weight_parameters())
    g = torch.autograd.grad(F.cross_entropy(net(train[0], s.weights()), train[1]), weights, allow_unused=True)
    mu, wd, xi = s.cfg.momentum, s.cfg.weight_decay, s.lr
    with torch.no_grad():
        for p, q, gp in zip(weights, virtual.weight_parameters(), g):
            if gp is not None:
                q.sub_(xi * (mu * s.w_opt.state[p]["momentum_buffer"] + gp + wd * p))
    expected = F.cross_entropy(virtual(val[0], {k: s.cell_weights(k) for k in KINDS}), val[1])
    w_before = [p.detach().clone() for p in weights]
    got = s.arch_step(train, val)["val_loss"]  # the validation loss at the virtual weights
    assert got == pytest.approx(expected.item(), rel=1e-5)
    assert all(torch.equal(a, b) for a, b in zip(w_before, net.weight_parameters()))  # restored
    # without the momentum term the validation loss differs: the test can tell them apart
    no_mom = copy.deepcopy(net)
    with torch.no_grad():
        for p, q, gp in zip(weights, no_mom.weight_parameters(), g):
            if gp is not None:
                q.sub_(xi * (gp + wd * p))
    plain = F.cross_entropy(no_mom(val[0], {k: s.cell_weights(k) for k in KINDS}), val[1])
    assert abs(plain.item() - expected.item()) > 1e-4
