"""Both engines on problems with known fronts."""

import numpy as np
import pytest

from hybridnas.config import EngineConfig, SurrogateConfig
from hybridnas.core.moo import hypervolume, non_dominated
from hybridnas.network.engines.base import ENGINES, Problem, build_engine


class ZDT(Problem):
    def __init__(self, name, n_var=30):
        from pymoo.problems import get_problem

        self.p = get_problem(name, n_var=n_var)
        self.n_var, self.n_obj, self.n_constr = self.p.n_var, 2, 0
        self.xl, self.xu, self.integer = self.p.xl, self.p.xu, False

    def evaluate(self, X):
        return self.p.evaluate(X), np.zeros((len(X), 0))


class IntegerToy(Problem):
    """Two integer genes in 0..10: f1 = a, f2 = 10 - a + b, constraint a >= 2.
    The feasible front is b = 0, a in 2..10 (nine points); gene c is fixed (bounds 3..3)."""

    n_var, n_obj, n_constr, integer = 3, 2, 1, True
    xl = np.array([0, 0, 3])
    xu = np.array([10, 10, 3])

    def __init__(self):
        self.seen = []

    def evaluate(self, X):
        X = np.asarray(X)
        self.seen.extend(map(tuple, X))
        assert np.all(X[:, 2] == 3)
        F = np.stack([X[:, 0], 10 - X[:, 0] + X[:, 1]], axis=1).astype(float)
        G = (2 - X[:, 0]).reshape(-1, 1).astype(float)
        return F, G


def run(engine, problem, pop, gens, seed=1):
    history = []
    cfg = EngineConfig(name=engine, pop_size=pop, generations=gens, surrogate=SurrogateConfig(enabled=False))
    build_engine(cfg).minimize(problem, seed,
                               lambda g, X, F, G, info: history.append((g, X.copy(), F.copy(), G.copy())))
    return history


# ZDT with 10 variables (the front does not depend on their number): both engines first reach 99 % of the
# true front's hypervolume at generation 50-97 over seeds 1-3 (seed 1: 52 and 69), so 120 generations show
# each converges with a margin; the 30-variable default needed about 190 and took 33 s per DEAP run
ZDT_VARS, ZDT_GENERATIONS = 10, 120


@pytest.mark.parametrize("engine", ENGINES.names())
@pytest.mark.parametrize("name", ["zdt1", "zdt2"])
def test_hypervolume_within_one_percent_of_true_front(engine, name):
    from pymoo.problems import get_problem

    history = run(engine, ZDT(name, ZDT_VARS), pop=100, gens=ZDT_GENERATIONS)
    F = history[-1][2]
    ref = [1.1, 1.1]
    true_hv = hypervolume(get_problem(name).pareto_front(), ref)  # 100 points, like the population
    assert hypervolume(F, ref) >= 0.99 * true_hv
    assert [g for g, *_ in history] == list(range(ZDT_GENERATIONS))


@pytest.mark.parametrize("engine", ENGINES.names())
def test_integer_toy_front_constraints_and_fixed_genes(engine):
    p = IntegerToy()
    history = run(engine, p, pop=12, gens=25)
    _, X, F, G = history[-1]
    feasible = G[:, 0] <= 0
    front = F[feasible][non_dominated(F[feasible])]
    assert {tuple(f) for f in front} == {(a, 10 - a) for a in range(2, 11)}
    assert all(x.dtype.kind == "i" or np.all(x == np.rint(x)) for x in X)


@pytest.mark.parametrize("engine", ENGINES.names())
def test_same_seed_same_trajectory_and_replay_independent_of_global_rng(engine):
    import random

    a = run(engine, IntegerToy(), pop=8, gens=5, seed=3)
    random.seed(123)
    np.random.seed(123)
    b = run(engine, IntegerToy(), pop=8, gens=5, seed=3)
    for (_ga, Xa, Fa, _), (_gb, Xb, Fb, _) in zip(a, b):
        assert np.array_equal(Xa, Xb) and np.array_equal(Fa, Fb)
    c = run(engine, IntegerToy(), pop=8, gens=5, seed=4)
    assert any(not np.array_equal(x[1], y[1]) for x, y in zip(a, c))
