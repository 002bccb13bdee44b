"""The surrogate loop and its predictors, on problems with known structure."""

import numpy as np
import pytest

from hybridnas.config import EngineConfig, SurrogateConfig
from hybridnas.network.engines.base import Problem, build_engine
from hybridnas.network.predictors import (
    AUTO,
    PREDICTORS,
    build,
    calibration,
    cross_validated_tau,
    out_of_fold,
    select,
    top_tau,
)
from hybridnas.network.surrogate import Encoder, SurrogateSearch, prediction_quality


def test_encoder_one_hot_categorical_and_binary_scaled_ordinal_skips_fixed():
    enc = Encoder(["categorical", "ordinal", "binary", "ordinal"], [0, 1, 0, 2], [2, 3, 1, 2])
    Z = enc(np.array([[2, 1, 1, 2], [0, 3, 0, 2]]))
    assert Z.tolist() == [[0, 0, 1, 0.0, 0, 1], [1, 0, 0, 1.0, 1, 0]]


@pytest.mark.parametrize("name", PREDICTORS.names())
def test_every_predictor_learns_an_additive_error_and_gives_a_spread(name):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(80, 6))
    enc = Encoder(["categorical"] * 6, [0] * 6, [2] * 6)
    effect = rng.normal(size=(6, 3))
    y = effect[np.arange(6), X].sum(1) + 0.05 * rng.normal(size=80)
    model = build(name, 0).fit(enc(X[:60]), y[:60])
    mean, spread = model.predict(enc(X[60:]))
    assert mean.shape == spread.shape == (20,) and np.all(spread >= 0)
    assert prediction_quality(y[60:], mean)["kendall_tau"] > 0.5


def test_select_keeps_the_best_kendall_tau_among_the_better_half_and_calibrates_its_spread():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(40, 5))
    Z = Encoder(["categorical"] * 5, [0] * 5, [2] * 5)(X)
    y = (X == 2).sum(1) + 0.1 * rng.normal(size=40)
    best, taus, scale = select(list(AUTO), Z, y, folds=5, seed=3)
    assert set(taus) == set(AUTO)
    assert taus[best] == max(taus.values())
    mean, spread = out_of_fold("ridge", Z, y, 5, 3)
    assert taus["ridge"] == pytest.approx(top_tau(y, mean))
    assert cross_validated_tau("ridge", Z, y, 5, 3) == pytest.approx(prediction_quality(y, mean)["kendall_tau"])
    m, s = out_of_fold(best, Z, y, 5, 3)
    assert scale == pytest.approx(calibration(y, m, s))
    # calibrated: the out-of-fold residuals have unit variance in spreads
    assert np.sqrt(np.mean(((y - m) / (scale * s)) ** 2)) == pytest.approx(1.0)


def test_top_tau_ignores_how_well_the_worse_half_is_ranked():
    y = np.arange(20.0)
    pred = y.copy()
    pred[10:] = pred[10:][::-1]  # the worse half reversed: pooled tau drops, the top's does not
    assert top_tau(y, pred) == pytest.approx(1.0)
    assert prediction_quality(y, pred)["kendall_tau"] < 0.8


def test_prediction_quality_of_a_perfect_and_a_reversed_ranking():
    q = prediction_quality([0.1, 0.2, 0.3], [1.0, 2.0, 3.0])
    assert q["kendall_tau"] == pytest.approx(1) and q["spearman_rho"] == pytest.approx(1) and q["n"] == 3
    assert prediction_quality([0.1, 0.2, 0.3], [3.0, 2.0, 1.0])["kendall_tau"] == pytest.approx(-1)


class Additive(Problem):
    """Six categorical genes of four values. Error: additive (+ one interaction); cost: the sum of
    the codes, known without evaluating; constraint: cost <= 14, also cheap."""

    n_var, n_obj, n_constr, integer = 6, 2, 1, True
    xl, xu = np.zeros(6, int), np.full(6, 3)
    vtypes = ["categorical"] * 6
    expensive = [True, False]
    names = ["error", "cost"]

    def __init__(self, limit=None):
        rng = np.random.default_rng(7)
        self.effect = rng.uniform(0, 1, size=(6, 4))
        self.sent = []
        self.limit = limit

    def error(self, X):
        return self.effect[np.arange(6), X].sum(1) + 0.5 * (X[:, 0] == X[:, 1])

    def cheap(self, X):
        X = np.asarray(X)
        cost = X.sum(1).astype(float)
        return np.stack([np.full(len(X), np.nan), cost], 1), (cost - 14)[:, None]

    def evaluate(self, X, notes=None):
        X = np.asarray(X)
        self.sent += [tuple(x) for x in X]
        F, G = self.cheap(X)
        F[:, 0] = self.error(X)
        return F, G

    def budget_prefix(self, X):
        return len(X) if self.limit is None else max(0, min(len(X), self.limit - len(self.sent)))

    @property
    def exhausted(self):
        return self.limit is not None and len(self.sent) >= self.limit


def run(problem, seed=0, generations=6, **sg):
    cfg = EngineConfig(pop_size=8, generations=generations,
                       surrogate=SurrogateConfig(inner_pop=16, inner_generations=10, **sg))
    engine = build_engine(cfg)
    assert isinstance(engine, SurrogateSearch)
    log = []
    engine.minimize(problem, seed, lambda g, X, F, G, info: log.append((g, X.copy(), info)))
    return log


def test_the_loop_is_deterministic_never_repeats_and_sends_only_feasible_networks():
    a, b = Additive(), Additive()
    la, lb = run(a, seed=5, generations=4), run(b, seed=5, generations=4)
    assert a.sent == b.sent and len(a.sent) == 4 * 8
    assert len(set(a.sent)) == len(a.sent)
    assert all(sum(x) <= 14 for x in a.sent)
    assert [g for g, _, _ in la] == list(range(4))
    assert la[0][2]["surrogate"]["phase"] == "design"
    assert all(i["surrogate"]["phase"] == "surrogate" and i["surrogate"]["train_size"] == 8 * g for g, _, i in la[1:])
    assert [i for _, _, i in la] == [i for _, _, i in lb]


class Recorded(Additive):
    """Additive, with records that list the evaluations in a different order each time they are
    read - as evaluations.jsonl lists them in the order parallel trainings finished."""

    def __init__(self, shuffle_seed):
        super().__init__()
        self.shuffle = np.random.default_rng(shuffle_seed)
        self.rows = []

    def evaluate(self, X, notes=None):
        F, G = super().evaluate(X, notes)
        self.rows += [(np.asarray(x), f) for x, f in zip(X, F)]
        return F, G

    def archive(self, generation):
        rows = [self.rows[i] for i in self.shuffle.permutation(len(self.rows))]
        return np.array([x for x, _ in rows]), np.array([f for _, f in rows])


def test_the_loop_does_not_depend_on_the_order_records_were_written_in():
    a, b = Recorded(shuffle_seed=1), Recorded(shuffle_seed=2)
    run(a, seed=5, generations=4)
    run(b, seed=5, generations=4)
    assert a.sent == b.sent


def test_the_loop_finds_better_networks_than_its_random_design():
    p = Additive()
    run(p, seed=1)
    X = np.array(p.sent)
    err = p.error(X)
    design, later = err[:8], err[8:]
    assert later.min() < design.min() and np.median(later) < np.median(design)


def test_the_loop_spends_exactly_its_budget():
    p = Additive(limit=21)
    run(p, seed=2)
    assert len(p.sent) == 21 == len(set(p.sent))


def test_a_single_named_predictor_is_used_every_generation():
    log = run(Additive(), seed=3, generations=3, predictor="ridge")
    assert {i["surrogate"]["predictor"]["error"] for _, _, i in log[1:]} == {"ridge"}
    assert all(set(i["surrogate"]["cv_kendall_tau"]["error"]) == {"ridge"} for _, _, i in log[1:])
