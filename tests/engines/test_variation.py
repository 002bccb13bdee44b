"""Typed variation: each operator changes genes at its stated rate, measured over many draws."""

import numpy as np
import pytest

from hybridnas.config import EngineConfig, SurrogateConfig
from hybridnas.network.engines.base import ENGINES, Problem, build_engine
from hybridnas.network.engines.variation import (
    CROSSOVER_SWAP,
    ORDINAL_STEP,
    VARIATION,
    History,
    crossover,
    mutate,
    reset,
    step_or_reset,
)
from hybridnas.space.genes import Gene, GeneSpec

DRAWS = 40_000


def test_mutation_changes_each_gene_at_the_stated_rate_and_every_child_at_least_once():
    rng = np.random.default_rng(0)
    vtypes = ["ordinal", "categorical", "binary", "ordinal", "categorical", "ordinal"]
    xl = np.array([0, 0, 0, 1, 0, 2])
    xu = np.array([4, 2, 1, 3, 5, 2])  # the last gene is fixed: never changed, not counted
    X = np.stack([rng.integers(xl, xu + 1) for _ in range(DRAWS)])
    rate = 0.2
    Y = mutate(X, vtypes, xl, xu, rate, rng)
    changed = Y != X
    assert changed[:, :5].any(axis=1).all(), "a child left unchanged"
    assert not changed[:, 5].any(), "a fixed gene changed"
    n = 5
    expected = rate + (1 - rate) ** n / n  # the rate, plus the forced change of a child that drew none
    assert np.allclose(changed[:, :5].mean(0), expected, atol=0.01), (changed[:, :5].mean(0), expected)
    assert np.all((Y >= xl) & (Y <= xu))


def test_default_rate_is_one_over_the_free_genes():
    class P(Problem):
        n_var, n_obj, integer = 4, 2, True
        xl, xu = np.zeros(4, int), np.array([3, 3, 3, 0])

    engine = build_engine(EngineConfig(pop_size=4, generations=1, surrogate=SurrogateConfig(enabled=False)))
    assert engine.mutation_prob(3) == pytest.approx(1 / 3)


def test_categorical_and_binary_genes_reset_uniformly_to_another_value():
    rng = np.random.default_rng(1)
    v = np.full(DRAWS, 2)
    out = reset(v, 0, 4, rng)
    assert not np.any(out == 2)
    counts = np.bincount(out, minlength=5)[[0, 1, 3, 4]] / DRAWS
    assert np.allclose(counts, 0.25, atol=0.01)
    flips = reset(np.zeros(1000, int), 0, 1, rng)
    assert np.all(flips == 1)  # a binary gene always flips
    assert VARIATION["categorical"].mutation is reset and VARIATION["binary"].mutation is reset


def test_ordinal_genes_step_to_a_neighbour_or_reset():
    rng = np.random.default_rng(2)
    v = np.full(DRAWS, 2)
    out = step_or_reset(v, 0, 4, rng)
    assert not np.any(out == 2)
    # neighbours (1, 3): every step, plus the resets that land there (2 of the 4 other values)
    near = np.isin(out, [1, 3]).mean()
    assert near == pytest.approx(ORDINAL_STEP + (1 - ORDINAL_STEP) * 0.5, abs=0.01)
    assert (out == 1).mean() == pytest.approx((out == 3).mean(), abs=0.01)  # both sides alike
    edge = step_or_reset(np.zeros(DRAWS, int), 0, 4, rng)  # at a bound the only neighbour is one side
    assert (edge == 1).mean() == pytest.approx(ORDINAL_STEP + (1 - ORDINAL_STEP) / 4, abs=0.01)
    assert VARIATION["ordinal"].mutation is step_or_reset


def test_uniform_crossover_swaps_each_gene_with_probability_one_half():
    rng = np.random.default_rng(3)
    A = np.zeros((DRAWS, 4), int)
    B = np.ones((DRAWS, 4), int)
    C, D = crossover(A, B, ["ordinal", "categorical", "binary", "ordinal"], rng)
    assert np.allclose(C.mean(0), CROSSOVER_SWAP, atol=0.01)
    assert np.array_equal(C + D, A + B)  # each gene goes to one child or the other, never lost


def test_pymoo_operators_are_the_shared_maths():
    from hybridnas.network.engines.pymoo_operators import TypedCrossover, TypedMutation

    vtypes = ["ordinal", "categorical", "binary"]

    class P:
        xl, xu, n_var = np.array([0, 0, 0]), np.array([3, 2, 1]), 3

    X = np.random.default_rng(4).integers(0, 2, size=(2, 50, 3))
    a = TypedCrossover(vtypes)._do(P, X, random_state=np.random.default_rng(5))
    b = np.stack(crossover(X[0], X[1], vtypes, np.random.default_rng(5)))
    assert np.array_equal(a, b)
    m = TypedMutation(vtypes, 0.3)._do(P, X[0], random_state=np.random.default_rng(6))
    assert np.array_equal(m, mutate(X[0], vtypes, P.xl, P.xu, 0.3, np.random.default_rng(6)))


def test_gene_types_of_the_network_genome_and_tables():
    from hybridnas.config import load_config
    from hybridnas.space.genome import GenomeSpace
    from hybridnas.space.table import declared_genes

    space = GenomeSpace(load_config("digits").network, 3)
    assert space.spec.vtypes[:5] == ("ordinal", "ordinal", "categorical", "ordinal", "binary")
    spec = declared_genes({"op": ["a", "b"], "w": [0.5, 1.0], "d": {"low": 1, "high": 3},
                           "k": {"choices": [1, 3, 5], "type": "categorical"},
                           "f": {"low": 0, "high": 1, "type": "binary"}})
    assert spec.vtypes == ("categorical", "ordinal", "ordinal", "categorical", "binary")
    assert spec.masks()["categorical"].tolist() == [True, False, False, True, False]
    assert GeneSpec([Gene.choice("x", (True, False))]).vtypes == ("categorical",)


class Flat(Problem):
    """Every vector scores the same: NSGA-II then explores at random - and must never repeat itself."""

    n_var, n_obj, n_constr, integer = 4, 2, 0, True
    xl = np.zeros(4, int)
    xu = np.array([2, 2, 1, 3])
    vtypes = ["categorical", "ordinal", "binary", "ordinal"]

    def __init__(self):
        self.sent = []

    def evaluate(self, X, notes=None):
        self.sent += [tuple(x) for x in X]
        return np.zeros((len(X), 2)), np.zeros((len(X), 0))


@pytest.mark.parametrize("engine", ENGINES.names())
def test_engines_never_send_a_vector_twice_across_generations(engine):
    p = Flat()
    info = []
    cfg = EngineConfig(name=engine, pop_size=8, generations=20, surrogate=SurrogateConfig(enabled=False))
    build_engine(cfg).minimize(p, 0, lambda g, X, F, G, i: info.append(i))
    assert len(p.sent) == len(set(p.sent)) > 8
    assert len(set(p.sent)) <= 3 * 3 * 2 * 4
    assert sum(i["duplicates_rejected"] for i in info) > 0  # the space is small: repeats were drawn, and dropped


def test_history_counts_what_it_rejects():
    h = History()
    h.add([[1, 2], [3, 4]])
    keep = h.new(np.array([[1, 2], [5, 6], [5, 6]]))
    assert keep.tolist() == [False, True, False] and h.rejected == 2
