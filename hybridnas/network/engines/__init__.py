"""Multi-objective engines over the :class:`~hybridnas.network.problem.Problem` protocol.

An engine gets a problem, a seed and a termination (``pop_size``, ``generations``) and calls
``on_generation(gen, X, F, G)`` with the surviving population after every generation. It must be
deterministic for a seed *given the objective values*: that is what lets a killed search resume
by replaying the engine against the cache of finished evaluations.
"""

from __future__ import annotations

import random
from typing import Callable

import numpy as np

from ...registry import Registry
from ..problem import FreeView, Problem

ENGINES = Registry(
    "engine",
    modules=["hybridnas.network.engines.pymoo_engine", "hybridnas.network.engines.deap_engine"],
)

OnGeneration = Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]


class Engine:
    name = "base"
    algorithms = ("nsga2",)

    def __init__(self, cfg):
        self.cfg = cfg
        if cfg.algorithm not in self.algorithms:
            from ...errors import UserError

            raise UserError(
                f"engine '{self.name}' has no algorithm '{cfg.algorithm}' (at 'engine.algorithm'); "
                f"choose one of: {', '.join(self.algorithms)}"
            )

    def minimize(self, problem: Problem, seed: int, on_generation: OnGeneration) -> None:
        view = FreeView(problem)

        def evaluate(X):
            # Evaluation may train networks, which may touch global RNGs; the engine's own
            # random stream must not depend on whether a result came from the cache.
            py_state, np_state = random.getstate(), np.random.get_state()
            try:
                return view.evaluate(X)
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)

        def report(gen, X, F, G):
            on_generation(gen, view.full(X), F, G)

        self._minimize(view, evaluate, seed, report)

    def _minimize(self, problem: Problem, evaluate, seed: int, report: OnGeneration) -> None:
        raise NotImplementedError

    def mutation_prob(self, n_var: int) -> float:
        return self.cfg.mutation_prob if self.cfg.mutation_prob is not None else 1.0 / max(n_var, 1)


def build_engine(cfg) -> Engine:
    return ENGINES.get(cfg.name, key="engine.name")(cfg)
