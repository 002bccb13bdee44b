"""DDPNAS: rounds sample every op of every edge once, accuracy records drive the momentum update,
and the least likely op of every edge is pruned - the worst-scored one, not the best."""

import pytest
import torch

from hybridnas.block.derive import parameter_free_count
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config
from hybridnas.errors import UserError
from hybridnas.space.costs import network_cost
from hybridnas.space.genotype import edge_index

OPS = ("max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
# validation accuracies a few points apart, as sub-nets' are (x 100 in the row softmax)
QUALITY = {"max_pool_3x3": 0.50, "skip_connect": 0.51, "sep_conv_3x3": 0.55, "dil_conv_3x3": 0.53}


def make(options=None, ops=OPS):
    cfg = load_config(None, ["block.strategy.name=ddpnas", "block.library=[{}]"])
    torch.manual_seed(0)
    net = Supernet(ops, 2, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy("ddpnas", net, cfg.block, options or {}), net, cfg


def scripted_subnet(s, net):
    """Draw the next sub-net as training would, and give it a scripted validation accuracy:
    the mean quality of its ops (so every op's records rank ops like QUALITY does)."""
    s.cell_weights("normal")
    ops = [net.op_names[o] for k in KINDS for o in s.choice[k]]
    acc = sum(QUALITY[o] for o in ops) / len(ops)
    s.sub_correct, s.sub_seen = int(round(1000 * acc)), 1000
    chosen = {k: list(v) for k, v in s.choice.items()}
    s._finish_subnet()
    return chosen


def test_a_round_samples_every_op_of_every_edge_once():
    s, net, _ = make({"rounds": 2})
    seen = {k: [[] for _ in range(net.n_edges)] for k in KINDS}
    for _ in range(len(OPS)):
        choice = scripted_subnet(s, net)
        for k in KINDS:
            for e, o in enumerate(choice[k]):
                seen[k][e].append(o)
    for k in KINDS:
        for ops in seen[k]:
            assert sorted(ops) == list(range(len(OPS)))  # without replacement
    assert len(s.records) == 1 and net.op_mask.all()  # one round done, no pruning before `rounds`


def test_scripted_accuracies_prune_the_worst_op_on_every_edge():
    """Each edge has its own ranking of ops (a rotation of QUALITY): every pruning removes that
    edge's worst remaining op, and the op left at the end is that edge's best."""
    s, net, _ = make({"rounds": 3})
    qualities = torch.tensor([QUALITY[o] for o in OPS])
    ranking = {k: torch.stack([qualities.roll(e + i) for e in range(net.n_edges)]) for i, k in enumerate(KINDS)}
    for _pruning in range(len(OPS) - 1):
        s.records = [{k: ranking[k] + 0.01 * r for k in KINDS} for r in range(3)]
        before = {k: net.mask(k).clone() for k in KINDS}
        s.update_and_prune()
        for k in KINDS:
            removed = before[k] & ~net.mask(k)
            assert removed.sum(-1).eq(1).all()  # exactly one op per edge
            worst = ranking[k].masked_fill(~before[k], float("inf")).argmin(-1)
            assert removed[torch.arange(net.n_edges), worst].all()
    assert s.remaining() == 1
    for k in KINDS:
        assert (net.mask(k).float().argmax(-1) == ranking[k].argmax(-1)).all()


def test_scripted_subnets_through_the_rounds_prune_once_per_rounds():
    s, net, _ = make({"rounds": 3})
    for _ in range(3 * len(OPS) - 1):
        scripted_subnet(s, net)
    assert s.prunings == 0 and net.op_mask.all()
    scripted_subnet(s, net)
    assert s.prunings == 1
    for k in KINDS:
        assert net.mask(k).sum(-1).eq(len(OPS) - 1).all()


def test_momentum_update_by_hand():
    s, net, _ = make({"rounds": 1, "momentum": 0.9})
    record = {k: torch.zeros(net.n_edges, len(OPS)) for k in KINDS}
    for k in KINDS:
        record[k][:] = torch.tensor([0.50, 0.52, 0.55, 0.51])
    s.records = [record]
    s.update_and_prune()
    e = torch.softmax(100 * torch.tensor([0.50, 0.52, 0.55, 0.51]), 0)
    theta = torch.full((4,), 0.25) + 0.1 * e
    theta[0] = 0.0  # the argmin is pruned
    theta = theta / theta.sum()
    assert torch.allclose(s.probabilities("normal")[0], theta, atol=1e-6)
    assert torch.allclose(s.velocity["normal"][0, 1:], 0.1 * e[1:], atol=1e-6)


def test_real_steps_record_accuracy_and_train_only_the_sampled_path():
    s, net, _ = make({"rounds": 1, "subnet_steps": 2})
    g = torch.Generator().manual_seed(0)
    b = lambda: (torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g))
    s.step(b(), b())
    choice = {k: list(v) for k, v in s.choice.items()}
    cw = s.cell_weights("normal")
    assert cw.active == [[o] for o in choice["normal"]]
    assert s.sub_seen == 8 and 0 <= s.sub_correct <= 8
    x, y = b()
    with torch.no_grad():
        correct = s.sub_correct + int((net(x, s.weights()).argmax(1) == y).sum())
    s.step(b(), (x, y))  # second step ends this sub-net: its accuracy (not error) is recorded
    acc = correct / 16
    rec = s.round_record["normal"]
    for e, o in enumerate(choice["normal"]):
        assert rec[e, o].item() == pytest.approx(acc)
    assert s.choice is None


def test_subnet_steps_are_fitted_to_the_budget():
    s, _, _ = make({"rounds": 3})
    s.begin_search(2, 10, 30)  # 300 steps for 3 * (4 + 3 + 2) = 27 sub-nets
    assert s.fit_subnet_steps() == 300 // 27
    s2, _, _ = make({"rounds": 3, "subnet_steps": 4})
    s2.begin_search(2, 10, 30)
    assert s2.fit_subnet_steps() == 4
    s3, net3, _ = make({"rounds": 3})  # fitted to the ops left when the search starts
    s3.begin_search(2, 10, 30)
    net3.op_mask[:, :, 0] = False  # e.g. removed by an outer shrink
    assert s3.fit_subnet_steps() == 300 // (3 * (3 + 2))


def test_budget_derivation_meets_the_budget_from_the_distribution():
    s, net, cfg = make()
    for _ in range(3 * len(OPS)):
        scripted_subnet(s, net)
    free = s.derive()
    from hybridnas.space.library import reference_spec

    def cost(g):
        b = cfg.block
        return network_cost(reference_spec(g, b.cells, b.reference_width, net.nodes, 1, 10, (8, 8))).params

    full = cost(free)
    budgets = [full * 0.9, full * 0.7]
    costs = []
    for budget in budgets:
        sb, _, _ = make({"budget": budget})
        sb.load_extra_state(s.extra_state())
        sb.net.op_mask.copy_(net.op_mask)
        g = sb.derive()
        costs.append(cost(g))
        assert costs[-1] <= budget
    assert costs[1] <= costs[0] < full
    big, _, _ = make({"budget": 10 * full})
    big.load_extra_state(s.extra_state())
    big.net.op_mask.copy_(net.op_mask)
    assert big.derive() == free


def test_bad_options_are_one_line_errors():
    with pytest.raises(UserError, match="rounds"):
        load_config(None, ["block.strategy={name: ddpnas, rounds: 0}", "block.library=[{}]"])
    with pytest.raises(UserError, match="budget_metric"):
        load_config(None, ["block.strategy={name: ddpnas, budget_metric: latency}", "block.library=[{}]"])


def _prune_fully(s, net, ranking):
    """Feed the same scripted accuracy records (``ranking[kind]``: E x K) until one op per edge is left."""
    while s.remaining() > 1:
        s.records = [{k: ranking[k].clone() for k in KINDS}]
        s.update_and_prune()


def test_fully_pruned_search_ranks_edges_by_how_clearly_their_op_won():
    """After full pruning every edge keeps one op and theta is 1 everywhere: derivation must rank
    a node's edges by the strength kept from before the last pruning, not read inputs 0 and 1."""
    s, net, _ = make({"rounds": 1})
    sep, dil = OPS.index("sep_conv_3x3"), OPS.index("dil_conv_3x3")
    ranking = {}
    for k in KINDS:
        acc = torch.full((net.n_edges, len(OPS)), 0.50)
        # every edge: sep_conv wins; by a hair on the edges from input 0, clearly elsewhere
        for e, (_, j) in enumerate(edge_index(net.nodes)):
            acc[e, sep] = 0.60
            acc[e, dil] = 0.5995 if j == 0 else 0.55
        ranking[k] = acc
    _prune_fully(s, net, ranking)
    assert s.prunings == len(OPS) - 1
    for k in KINDS:
        assert torch.equal(s.probabilities(k).max(-1).values, torch.ones(net.n_edges))  # theta cannot rank edges
    g = s.derive()
    for cell in (g.normal, g.reduce):
        assert cell.nodes[0] == (("sep_conv_3x3", 0), ("sep_conv_3x3", 1))  # node 2 has only two inputs
        assert cell.nodes[1] == (("sep_conv_3x3", 1), ("sep_conv_3x3", 2))  # not input 0: its op won by a hair
    state = s.extra_state()
    s2, net2, _ = make({"rounds": 1})
    s2.load_extra_state(state)
    net2.op_mask.copy_(net.op_mask)
    assert s2.derive() == g  # the strength survives a resume


def test_fully_pruned_parameter_free_cells_are_capped_by_reinstating_pruned_ops():
    """Pruning that keeps only pooling and skip ops leaves the guard no kept parametric op: it
    reinstates the strongest pruned ones, says so, and the cap holds."""
    s, net, cfg = make({"rounds": 1})
    limit = cfg.block.max_parameter_free
    ranking = {}
    for k in KINDS:
        acc = torch.tensor([[0.60, 0.58, 0.50, 0.55]] * net.n_edges)  # pool > skip > dil > sep
        ranking[k] = acc
    _prune_fully(s, net, ranking)
    for k in KINDS:
        assert (net.mask(k).float().argmax(-1) == OPS.index("max_pool_3x3")).all()
    d = s.derivation()
    unguarded_free = [parameter_free_count(c) for c in (d.unguarded.normal, d.unguarded.reduce)]
    assert unguarded_free == [2 * net.nodes] * 2
    for kind, cell in (("normal", d.block.normal), ("reduce", d.block.reduce)):
        assert parameter_free_count(cell) == limit
        assert all(op in ("max_pool_3x3", "dil_conv_3x3") for op in cell.ops())  # dil was pruned last
        assert any(n.startswith(f"{kind} cell: the collapse guard reinstated") for n in d.notes)
    for cell in (d.block.normal, d.block.reduce):  # every node still reads distinct inputs
        assert all(len({j for _, j in node}) == len(node) for node in cell.nodes)
