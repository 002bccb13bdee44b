"""The collapse guard of derivation: the cap holds by another edge when the edge has no
parametric op left, reinstates a reserve only when nothing kept will do, and says when it cannot."""

import torch

from hybridnas.block.derive import derive_cell, derive_cell_topk, parameter_free_count
from hybridnas.space.genotype import edge_index

OPS = ("skip_connect", "max_pool_3x3", "sep_conv_3x3")


def weights(nodes, rows):
    """``rows``: {(i, j): [skip, pool, sep]} strengths; other edges all zero."""
    index = edge_index(nodes)
    w = torch.zeros(len(index), len(OPS))
    for (i, j), row in rows.items():
        w[index.index((i, j))] = torch.tensor(row, dtype=torch.float)
    return w


def mask_from(w):
    return w > 0


def test_cap_takes_another_input_edge_when_the_edge_has_no_parametric_op():
    # node 2 reads 0 and 1 by skip/pool only (nothing else is left on those edges); node 3's
    # strongest edges are free ops too, but its edge from node 2 keeps a sep_conv
    w = weights(2, {(2, 0): [0.9, 0, 0], (2, 1): [0, 0.8, 0], (3, 0): [0.7, 0, 0], (3, 1): [0, 0.6, 0],
                    (3, 2): [0, 0, 0.3]})
    mask = mask_from(w)
    assert parameter_free_count(derive_cell(w, OPS, 2, mask=mask)) == 4
    cell = derive_cell(w, OPS, 2, mask=mask, max_parameter_free=3)
    assert cell.nodes[1] == (("skip_connect", 0), ("sep_conv_3x3", 2))  # the weaker free pick went
    assert parameter_free_count(cell) == 3
    notes = []
    assert derive_cell(w, OPS, 2, mask=mask, max_parameter_free=3, notes=notes) == cell and notes == []


def test_cap_says_when_it_cannot_hold_and_why():
    w = weights(2, {(2, 0): [0.9, 0, 0], (2, 1): [0, 0.8, 0], (3, 0): [0.7, 0, 0], (3, 1): [0, 0.6, 0],
                    (3, 2): [0, 0, 0.3]})
    cell = derive_cell(w, OPS, 2, mask=mask_from(w), max_parameter_free=1)
    assert parameter_free_count(cell) == 3  # one swap was possible, three were needed
    notes = []
    derive_cell(w, OPS, 2, mask=mask_from(w), max_parameter_free=1, notes=notes)
    assert len(notes) == 1 and "keeps 3 parameter-free ops against max_parameter_free 1" in notes[0]


def test_cap_reinstates_a_reserve_only_when_nothing_kept_will_do():
    w = weights(2, {(2, 0): [0.9, 0, 0.2], (2, 1): [0, 0.8, 0.1], (3, 0): [0.7, 0, 0.05], (3, 1): [0, 0.6, 0],
                    (3, 2): [0, 0, 0.3]})
    kept = torch.zeros_like(w, dtype=torch.bool)
    kept[:, :2] = w[:, :2] > 0
    kept[edge_index(2).index((3, 2)), 2] = True
    reserve = (w > 0) & ~kept  # the sep_convs of the first three edges were pruned
    notes = []
    cell = derive_cell(w, OPS, 2, mask=kept, reserve=reserve, max_parameter_free=1, notes=notes)
    assert parameter_free_count(cell) == 1
    # weakest free pick first: pool@1 of node 3 takes the kept sep_conv on 3<-2; then, from the
    # reserve, skip@0 of node 3 and pool@1 of node 2 their own edges' pruned sep_conv
    assert cell.nodes[1] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 2))
    assert cell.nodes[0] == (("skip_connect", 0), ("sep_conv_3x3", 1))
    assert len(notes) == 1 and "reinstated 2" in notes[0]
    assert "sep_conv_3x3 on 3<-0" in notes[0] and "sep_conv_3x3 on 2<-1" in notes[0]
    # with a kept alternative for every excess pick, nothing is reinstated
    notes = []
    derive_cell(w, OPS, 2, mask=kept, reserve=reserve, max_parameter_free=3, notes=notes)
    assert notes == []


def test_topk_cap_may_take_another_pair_of_the_node():
    """The top-k rule keeps (edge, op) pairs: with no parametric op left on the weaker pair's
    edge, the guard takes a parametric pair on another edge (even one the node already reads)."""
    ops = ("skip_connect", "sep_conv_3x3")
    w = torch.tensor([[0.55, 0.05], [0.40, 0.0]])  # one node's joint distribution, E x K
    mask = torch.tensor([[True, True], [True, False]])
    assert parameter_free_count(derive_cell_topk(w, ops, 1, samples=2, mask=mask)) == 2
    cell = derive_cell_topk(w, ops, 1, samples=2, mask=mask, max_parameter_free=1)
    assert cell.nodes[0] == (("skip_connect", 0), ("sep_conv_3x3", 0))
