"""Predictors of an expensive objective (error) from a gene encoding, for the surrogate loop.

Each predictor is a small class over a scikit-learn model with ``fit(X, y)`` and
``predict(X) -> (mean, spread)``; the spread (a standard deviation: across the trees of a
forest, the members of a bagged ensemble, or a model's own posterior) is what the loop's
exploration uses. They are registered in :data:`PREDICTORS`, as NSGANetV2 keeps one class per
model behind a factory; :func:`select` fits every candidate and keeps the one whose out-of-fold
predictions rank the *better half* of the evaluated networks best (Kendall's tau over k folds,
pooled over the folds: a fold of a dozen networks gives a very noisy tau). NSGANetV2's adaptive
switching ranks all of them, which mostly rewards telling broken networks from working ones; the
search needs the order among the good ones. The same out-of-fold predictions calibrate the
chosen predictor's spread (:func:`calibration`), so that the loop's Monte-Carlo acquisition
samples outcomes as wide as the predictor's real errors.

``X`` is already encoded (one-hot categorical and binary genes, ordinal genes scaled to [0, 1]:
:class:`hybridnas.network.surrogate.Encoder`).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..registry import CONFIG_HOOKS, Registry

PREDICTORS = Registry("predictor", modules=["hybridnas.network.predictors"])


@CONFIG_HOOKS.register("engine.surrogate.predictor")
def check_predictor(name: str) -> None:
    """The config's ``engine.surrogate.predictor`` hook: a known predictor."""
    PREDICTORS.get(name, key="engine.surrogate.predictor")


# the predictors `predictor: auto` chooses from, in order of preference on a tie
AUTO = ("gp", "rf", "extra_trees", "ridge")


class Predictor:
    name = "base"

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Predictor":
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class _Forest(Predictor):
    """A forest; the spread is the standard deviation across its trees."""

    def _model(self):
        raise NotImplementedError

    def fit(self, X, y):
        self.model = self._model().fit(X, y)
        return self

    def predict(self, X):
        # each tree's own ``tree_.predict`` on the float32 rows the estimators' ``predict`` would
        # make (the same values): sklearn's per-call input checks took 4/5 of a search's prediction time
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        per_tree = np.stack([t.tree_.predict(X32).reshape(len(X32)) for t in self.model.estimators_])
        return per_tree.mean(0), per_tree.std(0)


@PREDICTORS.register("rf")
class RandomForest(_Forest):
    name = "rf"

    def _model(self):
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=100, max_features=0.5, random_state=self.seed, n_jobs=1)


@PREDICTORS.register("extra_trees")
class ExtraTrees(_Forest):
    name = "extra_trees"

    def _model(self):
        from sklearn.ensemble import ExtraTreesRegressor

        return ExtraTreesRegressor(n_estimators=100, max_features=0.5, random_state=self.seed, n_jobs=1)


class _Posterior(Predictor):
    """A model with its own predictive standard deviation (``predict(X, return_std=True)``)."""

    def predict(self, X):
        mean, std = self.model.predict(X, return_std=True)
        return mean, std


@PREDICTORS.register("gp")
class GaussianProcess(_Posterior):
    """A Gaussian process: Matern kernel (nu 2.5) with one length scale, plus a noise term;
    targets standardised. Its posterior standard deviation is the spread."""

    name = "gp"

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

        # one length scale for all features: per-feature scales (ARD) fitted 5-25x slower and ranked
        # no better with up to 200 networks on the tables measured
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(1.0, (1e-2, 1e3), nu=2.5) + WhiteKernel(1e-2, (1e-6, 1.0))
        self.model = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, random_state=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(X, y)
        return self


@PREDICTORS.register("ridge")
class BayesianLinear(_Posterior):
    """Bayesian ridge regression: an additive model of the genes (each choice adds to the error)."""

    name = "ridge"

    def fit(self, X, y):
        from sklearn.linear_model import BayesianRidge

        self.model = BayesianRidge().fit(X, y)
        return self


@PREDICTORS.register("mlp")
class BaggedMLP(Predictor):
    """Five small MLPs, each fitted on a bootstrap sample; the spread is across the members."""

    name = "mlp"
    members = 5

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor

        rng = np.random.default_rng(self.seed)
        self.mu, self.sd = float(np.mean(y)), float(np.std(y)) or 1.0
        z = (np.asarray(y) - self.mu) / self.sd
        self.models = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for k in range(self.members):
                idx = rng.integers(0, len(X), size=len(X))
                m = MLPRegressor(hidden_layer_sizes=(64, 64), alpha=1e-3, max_iter=600, random_state=self.seed + k)
                self.models.append(m.fit(X[idx], z[idx]))
        return self

    def predict(self, X):
        P = np.stack([m.predict(X) for m in self.models]) * self.sd + self.mu
        return P.mean(0), P.std(0)


def build(name: str, seed: int) -> Predictor:
    return PREDICTORS.get(name, key="engine.surrogate.predictor")(seed)


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two sequences (NaN when either is constant or shorter than 2)."""
    from scipy.stats import kendalltau

    if len(a) < 2:
        return float("nan")
    t = kendalltau(a, b).statistic
    return float(t) if t is not None else float("nan")


def out_of_fold(name: str, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ``(mean, spread)`` of predictor ``name`` for every row (k-fold, shuffled)."""
    from sklearn.model_selection import KFold

    k = min(folds, len(X))
    mean, spread = np.empty(len(X)), np.empty(len(X))
    for train, test in KFold(k, shuffle=True, random_state=seed).split(X):
        mean[test], spread[test] = build(name, seed).fit(X[train], y[train]).predict(X[test])
    return mean, spread


def cross_validated_tau(name: str, X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    """Kendall's tau between ``y`` and the out-of-fold predictions of predictor ``name``."""
    return kendall_tau(y, out_of_fold(name, X, y, folds, seed)[0])


def top_tau(y: np.ndarray, pred: np.ndarray) -> float:
    """Kendall's tau among the better half of ``y`` (the lower values; at least 4 rows): how well
    predictions rank the networks that matter, not how well they tell broken ones from the rest."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    if len(y) < 8:
        return kendall_tau(y, pred)
    better = y <= np.median(y)
    return kendall_tau(y[better], pred[better])


def calibration(y: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> float:
    """The factor that makes ``spread`` a calibrated standard deviation of ``y - mean``: the root
    mean square of the standardised out-of-fold residuals (1 when the spread is right), in
    [0.1, 10]."""
    s = np.maximum(np.asarray(spread, float), 1e-12)
    z = (np.asarray(y, float) - np.asarray(mean, float)) / s
    z = z[np.isfinite(z)]
    if not len(z):
        return 1.0
    return float(np.clip(np.sqrt(np.mean(z ** 2)), 0.1, 10.0))


def select(names: Sequence[str], X: np.ndarray, y: np.ndarray, folds: int,
           seed: int) -> Tuple[str, Dict[str, float], float]:
    """The predictor of ``names`` whose out-of-fold predictions rank the better half of ``y`` best
    (:func:`top_tau`; ties by the order of ``names``), every score, and the chosen one's spread
    calibration (:func:`calibration`). A single name is taken as it is (still scored)."""
    taus: Dict[str, float] = {}
    scale: Dict[str, float] = {}
    for n in names:
        if len(X) >= 4:
            mean, spread = out_of_fold(n, X, y, folds, seed)
            taus[n], scale[n] = top_tau(y, mean), calibration(y, mean, spread)
        else:
            taus[n], scale[n] = float("nan"), 1.0
    ranked: List[str] = sorted(names,
                               key=lambda n: (-(taus[n] if np.isfinite(taus[n]) else -2.0), list(names).index(n)))
    return ranked[0], taus, scale[ranked[0]]
