"""Angle-based shrinking: the angle (0 for unchanged weights, growing as they move, equal to the
angle of explicitly concatenated path vectors), dropping ops per round, wrapping any strategy."""

import pytest
import torch

from hybridnas.block.strategies import STRATEGIES
from hybridnas.block.strategies.base import build_strategy
from hybridnas.block.supernet import KINDS, Supernet
from hybridnas.config import load_config
from hybridnas.errors import UserError
from hybridnas.space.genotype import edge_index

OPS = ("none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")


def make(options=None, ops=OPS, nodes=2):
    cfg = load_config(None, ["block.strategy.name=shrink", "block.library=[{}]", "block.epochs=8"])
    torch.manual_seed(0)
    net = Supernet(ops, nodes, width=4, cells=3, in_chans=1, num_classes=10, image_size=(8, 8))
    return build_strategy("shrink", net, cfg.block, options or {}), net


def batch(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)


def explicit_vector(s, net, params, children, i):
    """V(W) of child ``i`` built the slow way: enumerate every path from a cell input to an
    intermediate node and concatenate the flattened weights of its ops (none breaks, skip adds
    nothing, pooling adds a C x 9 kernel of 1/9), then the weights outside the edges."""
    nodes = net.nodes
    edges = edge_index(nodes)
    parts = []
    for ci, cell in enumerate(net.cells):
        kind = "reduce" if cell.reduction else "normal"
        choice = children[kind][i]

        def segment(e):
            o = int(choice[e])
            name = net.op_names[o]
            if "pool" in name:
                return [torch.full((cell.plan.c * 9,), 1.0 / 9.0, dtype=torch.float64)]
            prefix = f"cells.{ci}.edges.{e}.ops.{o}."
            return [params[n].double().flatten() for n in params if n.startswith(prefix)]

        def paths_into(t):
            if t < 2:
                return [[]]
            out = []
            for e, (tt, j) in enumerate(edges):
                if tt == t and net.op_names[int(choice[e])] != "none":
                    out += [p + [e] for p in paths_into(j)]
            return out

        for t in range(2, nodes + 2):
            for path in paths_into(t):
                for e in path:
                    parts += segment(e)
    on_edges = {n for n in params if ".edges." in n}
    parts += [params[n].double().flatten() for n in params if n not in on_edges]
    return torch.cat(parts)


def test_angle_is_zero_for_unchanged_weights_and_grows_as_they_move():
    s, net = make()
    children = s.sample_children(12)
    assert torch.allclose(s.angles(children), torch.zeros(12, dtype=torch.float64), atol=1e-6)
    w0 = {n: p.detach().clone() for n, p in net.named_parameters()}
    g = torch.Generator().manual_seed(0)
    noise = {n: torch.randn(p.shape, generator=g) for n, p in net.named_parameters()}
    means = []
    for scale in (0.01, 0.1, 0.5, 2.0):
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.copy_(w0[n] + scale * noise[n] * w0[n].abs().mean().clamp_min(1e-3))
        a = s.angles(children)
        assert (a > 0).all()
        means.append(float(a.mean()))
    assert means == sorted(means) and means[-1] > 10 * means[0]


def test_closed_form_angle_equals_explicit_path_concatenation():
    s, net = make(nodes=3)
    for step in range(3):  # move the weights a little, as training would
        s.weight_step(batch(step))
    children = s.sample_children(6)
    fast = s.angles(children)
    w0 = {n: t for n, t in s.w0.items()}
    wt = {n: p.detach() for n, p in net.named_parameters() if not n.startswith("alphas.")}
    for i in range(6):
        v0 = explicit_vector(s, net, w0, children, i)
        vt = explicit_vector(s, net, wt, children, i)
        cos = (v0 @ vt) / (v0.norm() * vt.norm())
        assert fast[i].item() == pytest.approx(float(torch.arccos(cos.clamp(-1, 1))), rel=1e-6, abs=1e-9)


def test_none_breaks_paths():
    s, net = make(nodes=2)
    n = net.n_edges
    none = net.op_names.index("none")
    conv = net.op_names.index("sep_conv_3x3")
    all_conv = torch.full((1, n), conv)
    # edges (2<-0), (2<-1), (3<-0), (3<-1), (3<-2): paths into 2: 2; into 3: 2 + 2
    assert s.path_counts(all_conv).tolist() == [[2.0, 2.0, 1.0, 1.0, 2.0]]
    cut = all_conv.clone()
    cut[0, 4] = none  # node 3 no longer reads node 2
    assert s.path_counts(cut).tolist() == [[1.0, 1.0, 1.0, 1.0, 0.0]]


def test_a_round_drops_the_lowest_scored_op_per_edge_and_never_none():
    s, net = make({"inner": "darts", "keep": 2})
    assert s.rounds_total == 2  # 4 ops other than none, keep 2
    scores = {k: torch.rand(net.n_edges, len(OPS), dtype=torch.float64) for k in KINDS}
    before = {k: net.mask(k).clone() for k in KINDS}
    s.drop_weakest(scores)
    none = OPS.index("none")
    for k in KINDS:
        removed = before[k] & ~net.mask(k)
        assert removed.sum(-1).eq(1).all()
        assert not removed[:, none].any()
        candidates = scores[k].clone()
        candidates[:, none] = float("inf")
        assert removed[torch.arange(net.n_edges), candidates.argmin(-1)].all()


@pytest.mark.parametrize("inner", sorted(set(STRATEGIES.names()) - {"shrink"}))
def test_shrink_wraps_any_strategy_removes_ops_then_runs_it(inner):
    opts = {"inner": inner, "keep": 2, "children": 8}
    opts.update({"cdarts": {"warmup_steps": 0}, "ddpnas": {"rounds": 1}}.get(inner, {}))
    s, net = make(opts)
    assert type(s.inner) is STRATEGIES.get(inner)
    w0 = {n: t.clone() for n, t in s.w0.items()}
    s.begin_search(0, 4, 2)
    alpha0 = {k: net.alphas[k].detach().clone() for k in KINDS}
    for epoch in range(2):  # two shrinking rounds: alpha untouched, one op per edge gone each
        s.begin_epoch(epoch, 4)
        for i in range(2):
            s.step(batch(10 * epoch + i), batch(100 + i))
        s.end_epoch()
        for k in KINDS:
            assert torch.equal(net.alphas[k].detach(), alpha0[k])
            assert net.mask(k)[:, 1:].sum(-1).eq(4 - (epoch + 1)).all()
    assert not s.shrinking and len(s.dropped) == 2 * 2 * net.n_edges
    assert all(torch.equal(w0[n], s.w0[n]) for n in w0)  # W0 is never re-drawn
    assert s.inner.plan == (2, 2, 2)  # the inner strategy gets the epochs that are left
    before = {k: s.probabilities(k).clone() for k in KINDS}
    s.begin_epoch(2, 4)
    for i in range(4):
        s.step(batch(50 + i), batch(60 + i))
    s.end_epoch()
    assert any(not torch.allclose(before[k], s.probabilities(k)) for k in KINDS)
    g = s.derive()
    for k, cell in (("normal", g.normal), ("reduce", g.reduce)):
        kept = {net.op_names[o] for o in range(len(OPS)) if net.mask(k)[:, o].any()}
        assert set(cell.ops()) <= kept


def test_inner_options_pass_through_and_are_checked():
    s, _ = make({"inner": "enhanced", "lam": 0.3, "keep": 3})
    assert s.inner.opts.lam == 0.3 and s.opts.keep == 3
    nested, _ = make({"inner": "egs", "inner_options": {"samples": 3}})
    assert nested.inner.opts.samples == 3
    with pytest.raises(UserError, match="lam"):
        make({"inner": "darts", "lam": 0.3})
    with pytest.raises(UserError, match="shrink itself"):
        make({"inner": "shrink"})
    with pytest.raises(UserError, match="unknown block strategy"):
        make({"inner": "nope"})


def test_config_checks_the_budget_and_keeps_the_library_sweep():
    cfg = load_config(None, ["block.strategy.name=shrink"])  # digits: enhanced options, lam sweep
    assert [dict(m) for m in cfg.block.library] == [{"lam": 0.0}, {"lam": 0.1}, {"lam": 0.4}]
    assert cfg.block.strategy.options.get("mode") == "additive"
    with pytest.raises(UserError, match="inner strategy"):
        load_config(None, ["block.strategy={name: shrink, keep: 1}", "block.epochs=5"])
    with pytest.raises(UserError, match="samples"):
        load_config(None, ["block.strategy={name: shrink, inner: egs, samples: 0}", "block.library=[{}]"])
