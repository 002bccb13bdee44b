"""The Gumbel strategies: gdas computes only its one sampled op per edge; egs draws codes of
1..M ones whose gradient reaches the distribution, guards the all-none code, and derives by the
multinomial top-k rule."""

import math

import pytest
import torch
import torch.nn.functional as F

from hybridnas.block.derive import cover_probability, derive_cell_topk
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config
from hybridnas.space.genotype import node_edges

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")


def make(name, options=None, ops=OPS, nodes=2):
    cfg = load_config(None, [f"block.strategy.name={name}", "block.library=[{}]"])
    torch.manual_seed(0)
    net = Supernet(ops, nodes, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy(name, net, cfg.block, options or {}), net


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def count_op_calls(net):
    """Hooks counting forward calls of every candidate op of every edge: {(cell, edge, op): n}."""
    calls = {}
    for ci, cell in enumerate(net.cells):
        for e, mixed in enumerate(cell.edges):
            for o, op in enumerate(mixed.ops):
                def hook(*_, key=(ci, e, o)):
                    calls[key] = calls.get(key, 0) + 1

                op.register_forward_hook(hook)
    return calls


# ---------------------------------------------------------------- gdas


def test_gdas_computes_only_the_sampled_op():
    s, net = make("gdas")
    calls = count_op_calls(net)
    weights = s.weights()
    net(batch()[0], weights)
    for ci, cell in enumerate(net.cells):
        cw = weights["reduce" if cell.reduction else "normal"]
        for e in range(net.n_edges):
            (k,) = cw.active[e]
            assert int(cw.weights[e].detach().argmax()) == k
            ran = [o for o in range(len(OPS)) if calls.get((ci, e, o))]
            assert ran == [k]  # that op, and nothing else, ran on this edge


def test_gdas_straight_through_gradient_reaches_alpha_and_forward_is_one_hot():
    s, net = make("gdas")
    cw = s.cell_weights("normal")
    assert torch.equal(cw.weights.detach(), F.one_hot(cw.weights.detach().argmax(-1), len(OPS)).float())
    (cw.weights * torch.randn_like(cw.weights)).sum().backward()
    assert net.alphas["normal"].grad is not None and net.alphas["normal"].grad.abs().sum() > 0


def test_gdas_never_samples_none_by_default_and_anneals_tau():
    s, net = make("gdas", ops=("none",) + OPS)
    with torch.no_grad():
        net.alphas["normal"][:, 0] = 20.0  # none would win every draw
    for _ in range(20):
        assert all(k != [0] for k in s.cell_weights("normal").active)
    s2, net2 = make("gdas", {"sample_none": True}, ops=("none",) + OPS)
    with torch.no_grad():
        net2.alphas["normal"][:, 0] = 20.0
    assert all(k == [0] for k in s2.cell_weights("normal").active)
    s.begin_search(3, 5, 10)
    s.begin_epoch(3, 8)
    assert s.tau == pytest.approx(10.0)
    s.begin_epoch(7, 8)
    assert s.tau == pytest.approx(0.1)


# ---------------------------------------------------------------- egs


@pytest.mark.parametrize("m", [1, 2, 3])
def test_egs_code_has_between_one_and_m_ones_per_node(m):
    s, net = make("egs", {"samples": m}, nodes=3)
    for _ in range(30):
        for kind in KINDS:
            p, b = s.sample_code(kind)
            assert set(b.detach().round().unique().tolist()) <= {0.0, 1.0}
            for r0, r1 in s.node_rows:
                ones = int(b[r0:r1].detach().round().sum())
                assert 1 <= ones <= m
                assert p[r0:r1].sum().item() == pytest.approx(1.0, abs=1e-5)


def test_egs_gradients_reach_the_probabilities():
    s, net = make("egs", {"samples": 2})
    p, b = s.sample_code("normal")
    # the code depends on p through the straight-through relaxation: d(sum w*b)/d(alpha) != 0
    (grad,) = torch.autograd.grad((b * torch.randn_like(b)).sum(), net.alphas["normal"])
    assert grad.abs().sum() > 0
    # and a validation step moves alpha (CE through the code, plus ADC)
    before = net.alphas["normal"].detach().clone()
    s.arch_step(batch(), batch(seed=1))
    assert not torch.equal(before, net.alphas["normal"].detach())


def test_egs_computes_only_the_ops_of_its_code():
    s, net = make("egs", {"samples": 3}, nodes=3)
    calls = count_op_calls(net)
    weights = s.weights()
    net(batch()[0], weights)
    for ci, cell in enumerate(net.cells):
        cw = weights["reduce" if cell.reduction else "normal"]
        ran = sorted((e, o) for (c, e, o) in calls if c == ci)
        code = sorted((e, o) for e, ops in enumerate(cw.active) for o in ops)
        assert ran == code
        for r0, r1 in s.node_rows:  # weights: the code over its number of ones
            w = cw.weights[r0:r1].detach()
            n = sum(len(cw.active[e]) for e in range(r0, r1))
            assert torch.allclose(w[w > 0], torch.full_like(w[w > 0], 1.0 / n))


def test_egs_all_none_code_is_guarded():
    s, net = make("egs", {"samples": 2, "sample_none": True}, ops=("none",) + OPS)
    with torch.no_grad():
        for k in KINDS:
            net.alphas[k][:, 0] = 30.0  # every draw lands on none
    weights = s.weights()
    for cw in weights.values():
        assert all(a == [] for a in cw.active)
        assert torch.isfinite(cw.weights).all()
    out = net(batch()[0], weights)
    assert torch.isfinite(out).all()
    loss = F.cross_entropy(out, batch()[1]) + s.adc_loss()
    loss.backward()
    assert all(torch.isfinite(a.grad).all() for a in net.arch_parameters())


def test_egs_adc_is_the_l1_between_distribution_and_normalised_code():
    """ADC pulls p toward the code normalised as the forward pass weights it, b / n (n: the
    code's ones on that node), as the public code does - a distribution like p, not b itself."""
    s, net = make("egs", {"samples": 3, "adc": 0.1}, nodes=3)
    weights = s.weights()
    targets, several = {}, 0
    for k in KINDS:
        b = (weights[k].weights.detach() > 0).float()
        t = torch.zeros_like(b)
        for r0, r1 in s.node_rows:
            n = b[r0:r1].sum()
            several += int(n > 1)
            t[r0:r1] = b[r0:r1] / n
            assert t[r0:r1].sum().item() == pytest.approx(1.0)
        targets[k] = t
    assert several > 0  # some node drew two or more pairs: b and b / n differ there
    by_hand = sum((s._last[k][0] - targets[k]).abs().mean() for k in KINDS)
    assert s.adc_loss().item() == pytest.approx(by_hand.item())
    # descending ADC alone pulls p toward that target
    p = s._last["normal"][0].detach()
    opt = torch.optim.SGD([net.alphas["normal"]], lr=5.0)
    for _ in range(5):
        opt.zero_grad()
        F.l1_loss(s.joint("normal"), targets["normal"]).backward()
        opt.step()
    assert F.l1_loss(s.joint("normal"), targets["normal"]) < F.l1_loss(p, targets["normal"])


def test_egs_entropies_are_per_node_against_the_nodes_pairs():
    """The alpha log's entropy of egs is one per node, over that node's (edge, op) pairs: at the
    start (alpha ~ 0) it is the uniform entropy log(pairs), and the margin is ~ 0."""
    from hybridnas.block.health import distribution_stats

    s, net = make("egs", nodes=3)
    with torch.no_grad():
        for k in KINDS:
            net.alphas[k].zero_()
    dists = s.distributions("normal")
    sizes = [len(p) for p in dists]
    assert sizes == [len(OPS) * (i + 2) for i in range(net.nodes)]
    stats = distribution_stats(dists)
    expected = sum(math.log(n) for n in sizes) / len(sizes)
    assert stats["entropy"] == pytest.approx(expected, rel=1e-6)
    assert stats["max_entropy"] == pytest.approx(expected, rel=1e-6)
    assert stats["margin"] == pytest.approx(0.0, abs=1e-6)


def test_egs_anneals_tau_from_five_to_one():
    s, _ = make("egs")
    s.begin_search(0, 5, 10)
    s.begin_epoch(0, 5)
    assert s.tau == pytest.approx(5.0)
    s.begin_epoch(2, 5)
    assert s.tau == pytest.approx(3.0)
    s.begin_epoch(4, 5)
    assert s.tau == pytest.approx(1.0)


def test_cover_probability_by_hand():
    # 3 draws, top set {0.5, 0.3}: P(all in it) - P(all on first) - P(all on second)
    assert cover_probability([0.5, 0.3], 3) == pytest.approx(0.8**3 - 0.5**3 - 0.3**3)
    assert cover_probability([0.6], 2) == pytest.approx(0.36)
    assert cover_probability([0.2, 0.2, 0.2], 2) == 0.0  # 2 draws cannot cover 3 pairs


def test_topk_rule_keeps_one_input_when_one_pair_dominates_and_m_when_flat():
    ops = ("skip_connect", "sep_conv_3x3")
    nodes = 2
    e = len(sum(node_edges(nodes).values(), []))
    joint = torch.zeros(e, 2)
    rows = node_edges(nodes)
    # node 2 (edges 0, 1): one dominant pair; node 3 (edges 2..4): flat over all 6 pairs
    joint[rows[2]] = torch.tensor([[0.9, 0.04], [0.03, 0.03]])
    joint[rows[3]] = 1.0 / 6
    cell = derive_cell_topk(joint, ops, nodes, samples=2)
    assert cell.nodes[0] == (("skip_connect", 0),)
    assert len(cell.nodes[1]) == 2
    # by the formula: k = 1 (0.81) beats k = 2 (2 * 0.9 * 0.04) for node 2
    assert cover_probability([0.9], 2) > cover_probability([0.9, 0.04], 2)
    cell4 = derive_cell_topk(joint, ops, nodes, samples=4)
    assert 1 <= len(cell4.nodes[1]) <= 4 and len(cell4.nodes[1]) > 1


def test_topk_rule_drops_none_and_caps_parameter_free_ops():
    ops = ("none", "skip_connect", "sep_conv_3x3")
    joint = torch.zeros(2, 3)
    joint[0] = torch.tensor([0.5, 0.3, 0.0])
    joint[1] = torch.tensor([0.0, 0.1, 0.1])
    cell = derive_cell_topk(joint, ops, 1, samples=2)
    assert all(op != "none" for op in cell.ops())
    capped = derive_cell_topk(joint, ops, 1, samples=2, max_parameter_free=0)
    assert all(op == "sep_conv_3x3" for op in capped.ops())
    assert len(set(capped.nodes[0])) == len(capped.nodes[0])  # no duplicate input after the swap


def test_egs_probabilities_are_one_distribution_per_node():
    s, net = make("egs", nodes=3)
    for kind in KINDS:
        p = s.probabilities(kind)
        for r0, r1 in s.node_rows:
            assert p[r0:r1].sum().item() == pytest.approx(1.0, abs=1e-5)
    assert math.isclose(float(p.sum()), net.nodes, rel_tol=1e-5)
