"""Twins: encodings of one network, recognised from the run's own evaluations and never sent."""

import numpy as np

from hybridnas.config import EngineConfig, SurrogateConfig
from hybridnas.network.engines.base import build_engine
from hybridnas.network.twins import Twins
from tests.engines.test_surrogate import Additive

# objectives: error (expensive), then two costs
ERR, COSTS = [0], [1, 2]


def test_twins_are_presumed_only_once_the_cost_matches_were_mostly_twins():
    F = [[0.30, 1.0, 5.0], [0.30, 1.0, 5.0], [0.20, 2.0, 5.0], [0.20, 2.0, 5.0]]
    assert not Twins(F, COSTS, ERR).presumed  # two of two: not yet evidence
    F.append([0.20, 2.0, 5.0])
    t = Twins(F, COSTS, ERR)
    assert t.presumed and t.info() == {"cost_matches": 3, "twins": 3, "presumed": True}
    assert np.array_equal(t.of(np.array([np.nan, 2.0, 5.0])), [0.20, 2.0, 5.0])
    assert t.of(np.array([np.nan, 2.0, 6.0])) is None  # no evaluated network costs that
    F += [[0.20, 2.0, 5.0]] * 4 + [[0.25, 1.0, 5.0]]  # one cost, two errors: it no longer names one network
    t = Twins(F, COSTS, ERR)
    assert (t.matches, t.twins) == (8, 7)
    assert t.presumed and t.of(np.array([np.nan, 1.0, 5.0])) is None
    assert t.of(np.array([np.nan, 2.0, 5.0])) is not None


def test_equal_costs_that_are_different_networks_presume_nothing():
    F = [[0.30, 1.0, 5.0], [0.31, 1.0, 5.0], [0.20, 2.0, 5.0], [0.22, 2.0, 5.0], [0.20, 2.0, 5.0]]
    t = Twins(F, COSTS, ERR)
    assert (t.matches, t.twins, t.presumed) == (3, 1, False)
    assert t.of(np.array([np.nan, 2.0, 5.0])) is None
    assert not Twins(F, [], ERR).presumed  # no cheap objective: no signature


class Mirrored(Additive):
    """Additive whose last two genes are one unordered pair: ``x`` and ``x`` with genes 4 and 5
    swapped are the same network (same error, same costs). The costs name the network: the
    canonical genes read as a base-4 number, and their sum."""

    n_constr = 0

    @staticmethod
    def canonical(X):
        X = np.array(X, dtype=int).reshape(-1, 6)
        X[:, 4:] = np.sort(X[:, 4:], axis=1)
        return X

    def error(self, X):
        return super().error(self.canonical(X))

    def cheap(self, X):
        C = self.canonical(X)
        code = (C * 4 ** np.arange(6)).sum(1).astype(float)
        return np.stack([np.full(len(C), np.nan), code, C.sum(1).astype(float)], 1), np.zeros((len(C), 0))

    n_obj = 3
    names = ["error", "code", "cost"]
    expensive = [True, False, False]


def test_the_loop_never_sends_a_presumed_twin_of_an_evaluated_network():
    p = Mirrored()
    cfg = EngineConfig(pop_size=8, generations=12, surrogate=SurrogateConfig(
        inner_pop=16, inner_generations=10, predictor="ridge", samples=16, local=0.7))
    log = []
    build_engine(cfg).minimize(p, 1, lambda g, X, F, G, info: log.append((g, len(X), info)))
    sent = [tuple(x) for x in p.sent]
    assert len(sent) == len(set(sent))
    networks = [tuple(c) for c in Mirrored.canonical(sent)]
    presumed_at = next(sum(n for _, n, _ in log[:i]) for i, (_, _, info) in enumerate(log)
                       if info["surrogate"].get("twins", {}).get("presumed"))
    # from the first batch chosen with twins presumed on, every network sent is a new one
    later = networks[presumed_at:]
    assert later and not set(later) & set(networks[:presumed_at])
    assert len(later) == len(set(later))
