"""The surrogate loop's batch: front neighbours, the acquisition, batch sizes, and what it may read."""

import json
import shutil

import numpy as np
import pytest

from hybridnas.cli.main import main
from hybridnas.config import SPACES_DIR, EngineConfig, SurrogateConfig, load_config
from hybridnas.core.objectives import COSTS
from hybridnas.network.acquisition import Samples, greedy_ehvi
from hybridnas.network.engines.base import build_engine
from hybridnas.network.engines.variation import History, neighbours
from hybridnas.network.surrogate import INITIAL, _front_mask, batch_size, design_size
from hybridnas.space.table import load_table
from tests.engines.test_surrogate import Additive


def test_neighbours_are_every_one_or_two_gene_edit_and_nothing_else():
    x = np.array([0, 2, 1])
    xl, xu = [0, 0, 0], [1, 2, 3]
    one = neighbours(x, xl, xu, 1)
    assert len(one) == 1 + 2 + 3 == len({tuple(y) for y in one})
    assert all((y != x).sum() == 1 for y in one)
    two = neighbours(x, xl, xu, 2)
    assert len(two) == 1 * 2 + 1 * 3 + 2 * 3 == len({tuple(y) for y in two})
    assert all((y != x).sum() == 2 and np.all((y >= xl) & (y <= xu)) for y in two)


class Noted(Additive):
    """Additive, keeping how each network was chosen and the archive before each generation."""

    def __init__(self, limit=None):
        super().__init__(limit)
        self.how = []
        self.batches = []

    def evaluate(self, X, notes=None):
        self.how += [(n or {}).get("selected_by") for n in (notes or [{}] * len(X))]
        self.batches.append(np.asarray(X).copy())
        return super().evaluate(X, notes)


def loop_cfg(**kw):
    sg = dict(inner_pop=16, inner_generations=10, predictor="ridge", samples=16)
    sg.update(kw.pop("sg", {}))
    return EngineConfig(pop_size=8, surrogate=SurrogateConfig(**sg), **kw)


def test_local_picks_are_unvisited_feasible_one_or_two_gene_edits_of_the_front():
    p = Noted()
    engine = build_engine(loop_cfg(generations=6, sg=dict(local=0.6)))
    engine.minimize(p, 4, lambda *a: None)
    sent = [tuple(x) for x in p.sent]
    assert len(sent) == len(set(sent)), "a network was sent twice"
    assert all(sum(x) <= 14 for x in sent), "an infeasible network was sent"
    local = 0
    for g in range(1, len(p.batches)):
        before = np.vstack(p.batches[:g])
        F = np.stack([p.error(before), before.sum(1)], 1)
        front = before[_front_mask(F)]
        start = sum(len(b) for b in p.batches[:g])
        for i, x in enumerate(p.batches[g]):
            if p.how[start + i] != "local":
                continue
            local += 1
            edits = (front != x).sum(1).min()
            assert 1 <= edits <= 2, (x, front)
    assert local >= 3


def test_the_neighbourhood_skips_visited_and_infeasible_networks():
    p = Additive()
    engine = build_engine(loop_cfg(generations=1))
    engine.minimize(p, 0, lambda *a: None)  # the design, and the loop's state
    X = np.array(p.sent)
    F = np.stack([p.error(X), X.sum(1)], 1).astype(float)
    nd = _front_mask(F)
    visited = neighbours(X[nd][0], p.xl, p.xu, 1)[:5]
    engine.history.add(visited)
    from hybridnas.network.surrogate import Encoder, Predicted

    inner = Predicted(p, {}, Encoder(p.vtypes, p.xl, p.xu), {History.key(x): f for x, f in zip(X, F)}, True)
    keys, top = engine._neighbourhood(p, inner, X, F, nd, engine._unseen({History.key(x): f for x, f in zip(X, F)}))
    assert 0 < top <= len(keys)
    assert keys and len(keys) == len(set(keys))
    got = np.array(keys)
    assert all(k not in engine.history and k not in {History.key(x) for x in X} for k in keys)
    assert not {History.key(v) for v in visited} & set(keys)
    assert np.all(got.sum(1) <= 14)
    assert all(1 <= (X[nd] != y).sum(1).min() <= 2 for y in got)


def ident(z):
    return z


def test_the_acquisition_prefers_equal_mean_and_larger_spread_near_the_accurate_end():
    front = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])  # error, cost (normalised)
    mean = np.array([[0.22, 0.82], [0.22, 0.82]])  # both just behind the most accurate member
    spread = np.array([[0.0, 0.0], [0.05, 0.0]])
    s = Samples(mean, spread, [ident, ident], ident, np.random.default_rng(0), 64)
    picks = greedy_ehvi(s, front, np.array([1.1, 1.1]), [([0, 1], 1)])
    assert [k for k, _, _ in picks] == [1] and picks[0][2] > 0
    # the same in the other order: it is the spread, not the index
    s = Samples(mean[::-1], spread[::-1], [ident, ident], ident, np.random.default_rng(0), 64)
    assert [k for k, _, _ in greedy_ehvi(s, front, np.array([1.1, 1.1]), [([0, 1], 1)])] == [0]


def test_a_phase_measured_at_the_accurate_end_picks_accuracy_over_a_cheaper_network():
    front = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])  # error, cost (normalised)
    cand = np.array([[0.85, 0.05],  # far cheaper than the cheapest member: the larger gain at ref 1.1
                     [0.18, 0.85]])  # a little more accurate than the most accurate member
    s = Samples(cand, np.zeros_like(cand), [ident, ident], ident, np.random.default_rng(0), 8)
    full = np.array([1.1, 1.1])
    assert [k for k, _, _ in greedy_ehvi(s, front, full, [([0, 1], 1)])] == [0]
    accurate = np.array([0.3, 1.1])  # error reference near the accurate end: the cheap one adds nothing there
    assert [k for k, _, _ in greedy_ehvi(s, front, full, [([0, 1], 1, accurate)])] == [1]
    # a later phase at the full reference counts the first phase's pick in its worlds
    got = greedy_ehvi(s, front, full, [([0, 1], 1, accurate), ([0, 1], 2)])
    assert [(k, phase) for k, phase, _ in got] == [(1, 0), (0, 1)]


def test_best_picks_rank_by_the_improvement_of_the_best_error_costs_only_breaking_ties():
    engine = build_engine(loop_cfg(generations=2))
    engine.expensive = [0]
    Fa = np.array([[0.2, 0.8], [0.5, 0.5], [0.8, 0.2]])  # the archive, normalised: error, cost
    ref = engine.best_reference(Fa)
    assert ref[0] == 0.2 and ref[1] > 100
    cand = np.array([[0.15, 1.0],   # the most accurate, and the costliest
                     [0.19, 0.05],  # barely more accurate than the best, and far cheaper
                     [0.30, 0.01],  # cheaper still, not more accurate: no gain here
                     [0.15, 0.9]])  # as accurate as the first, a little cheaper: wins the tie
    s = Samples(cand, np.zeros_like(cand), [ident, ident], ident, np.random.default_rng(0), 8)
    got = greedy_ehvi(s, Fa, np.array([1.1, 1.1]), [([0, 1, 2, 3], 3, ref)])
    assert [k for k, _, _ in got] == [3, 1]  # then 0 adds nothing 3 did not; 2 never does
    # at the plain reference the cheap ones win: the best picks are what reaches the accurate end
    full = greedy_ehvi(s, Fa, np.array([1.1, 1.1]), [([0, 1, 2, 3], 1)])
    assert full[0][0] in (1, 2)


def test_a_batch_takes_its_best_picks_out_of_the_local_share():
    picked = {}
    for best in (0.0, 0.5):
        p = Noted()
        build_engine(loop_cfg(generations=6, sg=dict(local=0.6, best=best))).minimize(p, 4, lambda *a: None)
        sent = [tuple(x) for x in p.sent]
        assert len(sent) == len(set(sent)), "a network was sent twice"
        picked[best] = {h: p.how.count(h) for h in set(p.how)}
    assert "best" not in picked[0.0]
    assert picked[0.5].get("best", 0) >= 3
    assert picked[0.5]["local"] < picked[0.0]["local"]  # out of the local share, not the hypervolume picks'


def test_a_cheap_network_predicted_worse_than_the_front_earns_nothing():
    engine = build_engine(loop_cfg(generations=2))
    engine.expensive = [0]
    p = Additive()
    # the front: (0.1, 10), (0.3, 5), (0.5, 2); the rest dominated, up to error 0.95
    Fa = np.array([[0.1, 10], [0.3, 5], [0.5, 2], [0.9, 20], [0.95, 15], [0.6, 12]], float)
    scale, ref = engine.scaling(p, Fa, 0.1)
    assert ref[0] == pytest.approx((0.5 - 0.1) / 0.85 + 0.1) and ref[1] == 1.1
    front = scale(Fa[_front_mask(Fa)])
    rng = np.random.default_rng(0)
    dead = np.array([[0.95, 1.0]])  # predicted almost useless, cheaper than anything measured
    s = Samples(dead, np.zeros_like(dead), [ident, ident], scale, rng, 8)
    assert greedy_ehvi(s, front, ref, [([0], 1)]) == []
    cheap = np.array([[0.55, 1.0]])  # a little worse than the front's cheapest, and cheaper: the front's cheap end
    s = Samples(cheap, np.zeros_like(cheap), [ident, ident], scale, rng, 8)
    assert [k for k, _, _ in greedy_ehvi(s, front, ref, [([0], 1)])] == [0]


def test_initial_design_and_batches_follow_the_budget():
    cfg = EngineConfig(pop_size=30, generations=None, evaluations=100)
    assert design_size(cfg) == INITIAL == 12
    n, sizes = design_size(cfg), []
    while n < 100:
        b = min(batch_size(cfg, n), 100 - n)
        sizes.append(b)
        n += b
    assert 4 <= min(sizes) and max(sizes) <= 16
    assert sum(sizes) / 100 >= 0.8  # most of a budget of 100 is chosen by the model
    assert batch_size(cfg, 300) == 17 and batch_size(cfg, 5000) == 32
    plain = EngineConfig(pop_size=30, generations=5)
    assert design_size(plain) == batch_size(plain, 100) == 30  # no budget: the population, as before
    fixed = EngineConfig(pop_size=30, evaluations=100, surrogate=SurrogateConfig(initial=20, batch=7))
    assert design_size(fixed) == 20 and batch_size(fixed, 50) == 7
    # and the loop spends them so
    p = Noted(limit=60)
    cfg = EngineConfig(pop_size=30, generations=None, evaluations=60,
                       surrogate=SurrogateConfig(inner_pop=16, inner_generations=5, predictor="ridge", samples=8))
    build_engine(cfg).minimize(p, 1, lambda *a: None)
    got = [len(b) for b in p.batches]
    assert got[0] == 12 and sum(got) == 60 == len(set(p.sent))
    for i in range(1, len(got)):
        assert got[i] == min(batch_size(cfg, sum(got[:i])), 60 - sum(got[:i]))


class Poisoned(dict):
    """A table row whose results (all but the genes and the cost columns) may not be read."""

    def __init__(self, row, open_keys):
        super().__init__(row)
        self.open = set(open_keys)

    def _deny(self, what):
        raise AssertionError(f"the search read {what} of a table row it never evaluated")

    def __getitem__(self, k):
        if k not in self.open:
            self._deny(k)
        return super().__getitem__(k)

    def get(self, k, default=None):
        if k not in self.open:
            self._deny(k)
        return super().get(k, default)

    def __iter__(self):
        self._deny("every column")

    def keys(self):
        self._deny("every column")

    def items(self):
        self._deny("every column")

    def values(self):
        self._deny("every column")


def test_a_search_never_reads_a_table_row_it_has_not_evaluated(tmp_path):
    shutil.copy(SPACES_DIR / "tables" / "digits_cells.csv", tmp_path / "t.csv")
    space = tmp_path / "s.yaml"
    space.write_text(f"extends: {SPACES_DIR / 'digits_table.yaml'}\ntable: {{path: t.csv}}\n"
                     "engine: {generations: null, evaluations: 40,\n"
                     "         surrogate: {predictor: ridge, inner_generations: 10, samples: 8}}\n")

    def run(name):
        assert main(["search", str(space), "--out", str(tmp_path), "--name", name, "--quiet"]) == 0
        return [json.loads(line) for line in (tmp_path / name / "evaluations.jsonl").read_text().splitlines()]

    first = run("a")
    table = load_table(load_config(space))  # the loaded table every later reader shares
    done = {r["arch_id"] for r in first}
    open_keys = {g.name for g in table.spec.genes} | set(COSTS)
    poisoned = 0
    for k, row in list(table.rows.items()):
        if table.point(np.array(k)).arch_id not in done:
            table.rows[k] = Poisoned(row, open_keys)
            poisoned += 1
    assert poisoned == len(table.rows) - 40
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(run("b")) == strip(first)
