"""CDARTS: the loss against a hand computation, the detach setting, the evaluation network rebuilt
from the genotype with matching weights copied, and the decaying L1 on parameter-free ops."""

import math

import pytest
import torch

from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.strategies.cdarts import cdarts_loss
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config
from hybridnas.space.builder import Network

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")


def make(options=None):
    cfg = load_config(None, ["block.strategy.name=cdarts", "block.library=[{}]"])
    torch.manual_seed(0)
    net = Supernet(OPS, 2, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy("cdarts", net, cfg.block, options or {}), net


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)


def test_loss_equals_hand_computation_on_fixed_logits():
    z_s = [[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]]
    z_e = [[2.0, -1.0, 0.0], [0.0, 1.0, 1.0]]
    y = [0, 2]
    t, a = 2.0, 1.5

    def softmax(v, temp=1.0):
        ex = [math.exp(x / temp) for x in v]
        return [x / sum(ex) for x in ex]

    ce = lambda z: sum(-math.log(softmax(row)[c]) for row, c in zip(z, y)) / len(y)
    kl = 0.0
    for rs, re in zip(z_s, z_e):
        p, q = softmax(re, t), softmax(rs, t)
        kl += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    kl /= len(y)  # batch mean: a sum over classes, a mean over samples
    expected = (ce(z_s) + ce(z_e)) / a + a * t * t * kl
    loss, parts = cdarts_loss(torch.tensor(z_s), torch.tensor(z_e), torch.tensor(y), t, a)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert parts["kd"].item() == pytest.approx(a * t * t * kl, rel=1e-6)


@pytest.mark.parametrize("detach", [True, False])
def test_detach_teacher_decides_whether_distillation_trains_the_evaluation_net(detach):
    z_s = torch.randn(4, 5, requires_grad=True)
    z_e = torch.randn(4, 5, requires_grad=True)
    _, parts = cdarts_loss(z_s, z_e, torch.tensor([0, 1, 2, 3]), detach_teacher=detach)
    g_s, g_e = torch.autograd.grad(parts["kd"], [z_s, z_e], allow_unused=True)
    assert g_s.abs().sum() > 0
    assert (g_e is None or g_e.abs().sum() == 0) if detach else g_e.abs().sum() > 0


def test_evaluation_net_is_built_from_the_genotype_with_matching_weights():
    s, net = make({"warmup_steps": 0})
    s.refresh_eval_net()
    ev = s.eval_net
    assert isinstance(ev, Network) and ev.stem is net.stem  # the stem is shared
    assert s.genotype == s.derive().to_string()
    assert all(not any(p is q for q in net.stem.parameters()) for p in s.e_opt.param_groups[0]["params"])
    # each op of the evaluation net starts from the supernet's weights of that op on that edge
    from hybridnas.space.genotype import edge_index

    edges = {e: i for i, e in enumerate(edge_index(net.nodes))}
    checked = 0
    for ci, cell in enumerate(ev.cells):
        for n, (entries, pairs) in enumerate(zip(cell.inputs, cell.genotype.nodes)):
            for (k, j), (op, _) in zip(entries, pairs):
                src = net.cells[ci].edges[edges[(n + 2, j)]].ops[OPS.index(op)]
                for name, p in cell.ops[k].named_parameters():
                    q = dict(src.named_parameters()).get(name)
                    if q is not None:
                        assert torch.equal(p, q)
                        checked += 1
    assert checked > 0
    # a new genotype: ops that stay on the same (cell, node, input) keep the eval net's weights
    with torch.no_grad():
        for p in ev.parameters():
            p.add_(0.5)
        net.alphas["reduce"][:, OPS.index("dil_conv_3x3")] += 5.0  # a new reduction cell
    old = ev
    assert s.refresh_eval_net()
    kept = 0
    for _ci, (c_old, c_new) in enumerate(zip(old.cells, s.eval_net.cells)):
        old_ops = {(n, op, j): c_old.ops[k] for n, (es, ps) in enumerate(zip(c_old.inputs, c_old.genotype.nodes))
                   for (k, j), (op, _) in zip(es, ps)}
        for n, (es, ps) in enumerate(zip(c_new.inputs, c_new.genotype.nodes)):
            for (k, j), (op, _) in zip(es, ps):
                if (n, op, j) in old_ops:
                    for p, q in zip(c_new.ops[k].parameters(), old_ops[(n, op, j)].parameters()):
                        assert torch.equal(p, q)
                        kept += 1
    assert kept > 0
    assert s.eval_warm_left == 0


def test_joint_step_updates_alpha_and_eval_net_not_search_weights():
    s, net = make({"warmup_steps": 1})
    s.begin_epoch(0, 2)
    w = [p.detach().clone() for p in net.weight_parameters()]
    a = {k: net.alphas[k].detach().clone() for k in KINDS}
    m = s.arch_step(batch(0), batch(1))  # first: the fresh evaluation net's warm-up step
    assert "eval_loss" in m and all(torch.equal(net.alphas[k], a[k]) for k in KINDS)
    e = [p.detach().clone() for p in s.eval_net.parameters()]
    m = s.arch_step(batch(2), batch(3))
    assert {"val_loss", "kd", "eval_acc"} <= set(m)
    assert all(not torch.equal(net.alphas[k], a[k]) for k in KINDS)
    assert any(not torch.equal(p, q) for p, q in zip(s.eval_net.parameters(), e))
    assert all(torch.equal(p, q) for p, q in zip(net.weight_parameters(), w))  # incl. the shared stem
    assert all(p.grad is None for p in net.weight_parameters())


def test_regulariser_is_l1_on_parameter_free_ops_and_decays_to_zero_by_the_ratio():
    s, net = make({"reg": 5.0, "reg_ratio": 0.5})
    s.begin_search(0, 5, 1)
    s.begin_epoch(0, 5)
    assert s.reg_weight() == pytest.approx(5.0)
    s.begin_epoch(1, 5)
    assert s.reg_weight() == pytest.approx(5.0 * (1 - 0.25 / 0.5))
    s.begin_epoch(2, 5)
    assert s.reg_weight() == 0.0
    free = [OPS.index("max_pool_3x3"), OPS.index("skip_connect")]
    by_hand = sum(net.alphas[k][:, free].abs().sum() for k in KINDS)
    assert s.reg_loss().item() == pytest.approx(by_hand.item())
