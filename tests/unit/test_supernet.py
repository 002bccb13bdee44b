import torch

from hybridnas.block.derive import derive_cell, parameter_free_count
from hybridnas.block.supernet import KINDS, CellWeights, Supernet
from hybridnas.space.genotype import edge_index
from hybridnas.space.ops import DARTS_OPS, OPS


def net(ops=DARTS_OPS, nodes=3):
    torch.manual_seed(0)
    return Supernet(ops, nodes, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))


def test_supernet_runs_every_registered_op_and_alpha_is_in_state_dict():
    n = net(tuple(OPS.names()))
    w = {k: CellWeights(torch.softmax(n.alphas[k], -1)) for k in KINDS}
    out = n(torch.randn(2, 1, 8, 8), w)
    assert out.shape == (2, 10)
    assert "alphas.normal" in n.state_dict() and "op_mask" in n.state_dict()
    assert {id(p) for p in n.arch_parameters()}.isdisjoint({id(p) for p in n.weight_parameters()})


def test_sparse_weights_skip_inactive_ops():
    n = net()
    e = len(edge_index(3))
    onehot = torch.zeros(e, len(DARTS_OPS))
    onehot[:, 4] = 1.0
    dense = {k: CellWeights(onehot) for k in KINDS}
    sparse = {k: CellWeights(onehot, active=[[4]] * e) for k in KINDS}
    x = torch.randn(2, 1, 8, 8)
    n.eval()
    assert torch.allclose(n(x, dense), n(x, sparse), atol=1e-6)


def test_derive_takes_two_strongest_edges_without_none():
    ops = ("none", "skip_connect", "sep_conv_3x3")
    w = torch.zeros(len(edge_index(2)), 3)
    w[:, 0] = 10.0  # none dominates everywhere but is never chosen
    w[0, 2] = 0.9
    w[1, 1] = 0.8
    w[2, 2] = 0.1
    w[3, 1] = 0.7
    w[4, 2] = 0.6
    cell = derive_cell(w, ops, 2)
    assert cell.nodes[0] == (("sep_conv_3x3", 0), ("skip_connect", 1))
    assert cell.nodes[1] == (("skip_connect", 1), ("sep_conv_3x3", 2))


def test_parameter_free_cap_swaps_weakest():
    ops = ("skip_connect", "max_pool_3x3", "sep_conv_3x3")
    w = torch.tensor([[0.9, 0.0, 0.1]] * len(edge_index(3)))
    w[0, 0] = 0.5
    uncapped = derive_cell(w, ops, 3)
    assert parameter_free_count(uncapped) == 6
    capped = derive_cell(w, ops, 3, max_parameter_free=2)
    assert parameter_free_count(capped) == 2


def test_op_costs_are_exact_per_edge():
    n = net(("skip_connect", "sep_conv_3x3"))
    normal, reduce = n.op_costs("normal"), n.op_costs("reduce")
    assert normal[:, 0].sum() == 0  # skip costs nothing at stride 1
    assert reduce[0, 0] > 0 and reduce[-1, 0] == 0  # factorized reduce on input edges only
