"""The enhanced gradient: the added term against a hand computation, and lam = 0 == DARTS."""

import math

import pytest
import torch

from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config

OPS = ("skip_connect", "sep_conv_3x3")


def make(name, options, seed=0):
    cfg = load_config(None, [f"block.strategy.name={name}", "block.library=[{}]"])
    torch.manual_seed(seed)
    net = Supernet(OPS, 1, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy(name, net, cfg.block, options), net


def test_added_gradient_matches_hand_computation():
    """One node, one op pair per edge: dC/da_k = p_k (c_k - sum_j p_j c_j) / c_max, times lam."""
    s, net = make("enhanced", {"lam": 0.5})
    with torch.no_grad():
        for k in KINDS:
            net.alphas[k].copy_(torch.tensor([[0.3, -0.2], [0.1, 0.4]]))
    for a in net.arch_parameters():
        a.grad = None
    (0.5 * s.expected_cost()).backward()
    # normal cell: skip costs 0, sep_conv costs c; normalised costs [0, 1] on both edges
    a = torch.tensor([[0.3, -0.2], [0.1, 0.4]])
    p = torch.softmax(a, -1)
    c = torch.tensor([0.0, 1.0])
    expected = 0.5 * p * (c - (p * c).sum(-1, keepdim=True))
    got = net.alphas["normal"].grad
    assert torch.allclose(got, expected, atol=1e-6)
    # sign: the expensive op is pushed down (positive gradient), the free op up
    assert (got[:, 1] > 0).all() and (got[:, 0] < 0).all()
    # size, by hand for edge 0: p = softmax(0.3, -0.2)
    p1 = math.exp(-0.2) / (math.exp(0.3) + math.exp(-0.2))
    assert got[0, 1].item() == pytest.approx(0.5 * p1 * (1 - p1), rel=1e-5)


def _alpha_after_steps(name, options, steps=3):
    s, net = make(name, options)
    g = torch.Generator().manual_seed(1)
    s.begin_epoch(0, 1)
    for _ in range(steps):
        b = lambda: (torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g))
        s.step(b(), b())
    return {k: net.alphas[k].detach().clone() for k in KINDS}, [p.detach().clone() for p in net.weight_parameters()]


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_zero_weight_reproduces_darts_exactly(mode):
    opts = {"lam": 0.0, "mode": mode} if mode == "additive" else {"beta": 0.0, "mode": mode}
    a_enh, w_enh = _alpha_after_steps("enhanced", opts)
    a_darts, w_darts = _alpha_after_steps("darts", {})
    for k in KINDS:
        assert torch.equal(a_enh[k], a_darts[k])
    assert all(torch.equal(x, y) for x, y in zip(w_enh, w_darts))


def _batches(seed=3):
    g = torch.Generator().manual_seed(seed)
    return lambda: (torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g))


def test_multiplicative_boosts_the_alpha_step_of_increasing_cheap_ops():
    """alpha's optimiser is Adam, which ignores a constant scale of a coordinate's gradient: the
    boost must act on the step. Same start, same batches: the multiplicative step is DARTS's step,
    times 1 + beta (1 - c / c_max) where it raises alpha, unchanged where it lowers it."""
    s_m, net_m = make("enhanced", {"mode": "multiplicative", "beta": 1.0})
    s_d, net_d = make("darts", {})
    start = {k: net_d.alphas[k].detach().clone() for k in KINDS}
    assert all(torch.equal(start[k], net_m.alphas[k]) for k in KINDS)
    b = _batches()
    train, val = b(), b()
    s_m.arch_step(train, val)
    s_d.arch_step(train, val)
    boosted = 0
    for k in KINDS:
        step_d = net_d.alphas[k].detach() - start[k]
        step_m = net_m.alphas[k].detach() - start[k]
        boost = 1.0 + (1.0 - s_m.norm_cost[k])
        assert torch.allclose(step_m, torch.where(step_d > 0, step_d * boost, step_d), atol=1e-7)
        boosted += int(((step_d > 0) & (boost > 1)).sum())
    assert boosted > 0  # the check above compared some boosted steps, not only untouched ones


def test_multiplicative_mode_moves_alpha_toward_cheap_ops_over_many_steps():
    """Over 30 steps the boost accumulates: the free op ends more likely than under DARTS."""
    s_m, net_m = make("enhanced", {"mode": "multiplicative", "beta": 1.0})
    s_d, net_d = make("darts", {})
    bm, bd = _batches(), _batches()
    for s, b in ((s_m, bm), (s_d, bd)):
        s.begin_epoch(0, 1)
        for _ in range(30):
            s.arch_step(b(), b())
    skip = OPS.index("skip_connect")
    p_m = torch.softmax(net_m.alphas["normal"], -1)[:, skip]
    p_d = torch.softmax(net_d.alphas["normal"], -1)[:, skip]
    assert p_m.mean() > p_d.mean()


def test_positive_lambda_lowers_expected_cost():
    s0, _ = make("enhanced", {"lam": 0.0})
    a0, _ = _alpha_after_steps("enhanced", {"lam": 0.0}, steps=5)
    a1, _ = _alpha_after_steps("enhanced", {"lam": 5.0}, steps=5)
    cost = s0.norm_cost["normal"]
    e0 = (torch.softmax(a0["normal"], -1) * cost).sum()
    e1 = (torch.softmax(a1["normal"], -1) * cost).sum()
    assert e1 < e0
