"""What an engine optimises and what an engine is: the :class:`Problem` protocol, its free-variable
view, the :class:`Engine` base, the registry of engines and the factory :func:`build_engine`.

An engine sees only a :class:`Problem`: bounds, the type of each variable, and a batch
``evaluate(X) -> (F, G)`` (objectives minimised; constraints feasible when ``<= 0``). The network
stage (:class:`hybridnas.network.problem.NetworkProblem`) is one such problem; tests use ZDT
problems as others. Optional parts, with defaults that suit a plain test problem:

- ``vtypes``: per variable, ``ordinal``, ``categorical`` or ``binary`` (integer problems) - how
  the engines vary it; ``None`` means every variable is ordinal (or real when not ``integer``);
- ``budget_prefix(X)`` / ``exhausted``: an evaluation budget (distinct evaluations); an engine
  sends only the rows the budget still pays for, and stops once it is spent;
- for the surrogate loop (:mod:`hybridnas.network.surrogate`): ``expensive`` (which objectives
  need an evaluation), ``cheap(X)`` (the other objectives and the constraints, without
  evaluating), and ``archive(generation)`` (what was evaluated before a generation, read from
  the problem's own records).

An engine gets a problem, a seed and a termination (``pop_size``, ``generations``, and the
problem's evaluation budget) and calls ``on_generation(gen, X, F, G, info)`` with the surviving
population after every generation (``info``: what the engine did, e.g. duplicates it rejected).
It must be deterministic for a seed *given the objective values*: that is what lets a killed
search resume by replaying the engine against the cache of finished evaluations.

Integer problems are varied by variable type (:mod:`.variation`: uniform crossover, random-reset
or step mutation, at least one gene changed per child) and never propose a gene vector twice in a
run (:class:`.variation.History`); real-valued problems keep SBX and polynomial mutation.
With ``engine.surrogate`` on, :func:`build_engine` wraps the engine in the surrogate-assisted
loop of :mod:`hybridnas.network.surrogate` (registered in :data:`WRAPPERS`, as the engines are in
:data:`ENGINES`), which runs it on predicted objectives.
"""

from __future__ import annotations

import difflib
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ...config import Checks, EngineConfig
from ...errors import UserError
from ...registry import CONFIG_HOOKS, Registry
from .variation import History, is_typed


class Problem:
    n_var: int
    n_obj: int
    n_constr: int = 0
    xl: np.ndarray
    xu: np.ndarray
    integer: bool = True
    vtypes: Optional[Sequence[str]] = None
    expensive: Optional[Sequence[bool]] = None  # per objective; None: all of them

    def evaluate(self, X: np.ndarray,
                 notes: Optional[Sequence[Dict[str, Any]]] = None) -> Tuple[np.ndarray, np.ndarray]:
        """Objectives and constraints of the rows of ``X``; ``notes`` (one dict per row, from the
        engine, e.g. a prediction) may be kept with the results."""
        raise NotImplementedError

    def budget_prefix(self, X: np.ndarray) -> int:
        """How many leading rows of ``X`` the evaluation budget still pays for (all: no budget)."""
        return len(X)

    @property
    def exhausted(self) -> bool:
        return False

    def cheap(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Objectives known without evaluating (NaN where expensive) and the constraints."""
        raise NotImplementedError(f"{type(self).__name__} cannot give objectives without evaluating")

    def archive(self, generation: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """``(X, F)`` of the successful evaluations made before ``generation``, from the problem's
        records; ``None`` when the problem keeps none (the engine then remembers what it saw)."""
        return None

    def normalise(self, F: np.ndarray) -> Optional[np.ndarray]:
        """Objectives scaled to about [0, 1] as the problem's hypervolume measures them, or None."""
        return None


def variable_types(problem: Problem) -> List[str]:
    """Each variable's type: the problem's ``vtypes``, else ordinal (integer) or real."""
    if getattr(problem, "vtypes", None) is not None:
        return list(problem.vtypes)
    return ["ordinal" if problem.integer else "real"] * problem.n_var


class FreeView(Problem):
    """The same problem without the genes fixed by their bounds (``xl == xu``).

    Variation operators divide by ``xu - xl``; a gene with one value has nothing to search.
    """

    def __init__(self, problem: Problem):
        self.inner = problem
        self.free = np.asarray(problem.xl) < np.asarray(problem.xu)
        self.fixed_values = np.asarray(problem.xl)
        self.n_var = int(self.free.sum())
        self.n_obj = problem.n_obj
        self.n_constr = problem.n_constr
        self.xl = np.asarray(problem.xl)[self.free]
        self.xu = np.asarray(problem.xu)[self.free]
        self.integer = problem.integer
        self.vtypes = [t for t, f in zip(variable_types(problem), self.free) if f]
        self.expensive = getattr(problem, "expensive", None)
        self.names = getattr(problem, "objectives", None) or getattr(problem, "names", None)

    def full(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        out = np.tile(self.fixed_values.astype(X.dtype if not self.integer else int), (len(X), 1))
        out[:, self.free] = np.rint(X) if self.integer else X
        return out

    def evaluate(self, X: np.ndarray, notes=None):
        if notes is None:
            return self.inner.evaluate(self.full(X))
        return self.inner.evaluate(self.full(X), notes)

    def budget_prefix(self, X: np.ndarray) -> int:
        return self.inner.budget_prefix(self.full(X)) if len(X) else 0

    @property
    def exhausted(self) -> bool:
        return self.inner.exhausted

    def cheap(self, X: np.ndarray):
        return self.inner.cheap(self.full(X))

    def normalise(self, F: np.ndarray):
        return self.inner.normalise(F)

    def archive(self, generation: int):
        got = self.inner.archive(generation)
        if got is None:
            return None
        X, F = got
        return np.asarray(X).reshape(len(X), -1)[:, self.free], F


ENGINES = Registry(
    "engine",
    modules=["hybridnas.network.engines.pymoo_engine", "hybridnas.network.engines.deap_engine"],
)
# engines that run another engine (the surrogate-assisted loop): the class takes (cfg, inner engine)
WRAPPERS = Registry("engine wrapper", modules=["hybridnas.network.surrogate"])


@CONFIG_HOOKS.register("engine")
def check_engine(g: EngineConfig, ck: Checks) -> None:
    """The config's ``engine`` hook: a known engine that has the algorithm asked for."""
    engine = ENGINES.get(g.name, key="engine.name")
    if g.algorithm not in engine.algorithms:
        close = difflib.get_close_matches(g.algorithm, engine.algorithms, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        ck.bad("engine.algorithm", f"is '{g.algorithm}', which engine '{g.name}' does not have; {hint}choose one of: "
               f"{', '.join(engine.algorithms)}")


OnGeneration = Callable[[int, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]], None]

# an engine without a generation limit stops after this many generations in a row that sent
# nothing feasible to evaluate (an evaluation budget no feasible network is left to spend on)
STALL_GENERATIONS = 25


class Engine:
    name = "base"
    algorithms = ("nsga2",)

    def __init__(self, cfg: EngineConfig):
        self.cfg = cfg
        if cfg.algorithm not in self.algorithms:
            raise UserError(
                f"engine '{self.name}' has no algorithm '{cfg.algorithm}' (at 'engine.algorithm'); "
                f"choose one of: {', '.join(self.algorithms)}"
            )
        self.history = History()
        self._stall = 0

    def minimize(self, problem: Problem, seed: int, on_generation: OnGeneration,
                 initial: Optional[np.ndarray] = None) -> None:
        """Run to the end. ``initial``: gene vectors to start the population with (the rest random)."""
        view = FreeView(problem)
        self.history = History()
        self._stall = 0
        self._reported = 0

        def evaluate(X, notes=None):
            # Evaluation may train networks, which may touch global RNGs; the engine's own
            # random stream must not depend on whether a result came from the cache.
            py_state, np_state = random.getstate(), np.random.get_state()
            try:
                return view.evaluate(X) if notes is None else view.evaluate(X, notes)
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)

        def report(gen, X, F, G, info=None):
            info = dict(info or {})
            info.setdefault("duplicates_rejected", self.history.rejected - self._reported)
            self._reported = self.history.rejected
            on_generation(gen, view.full(X), F, G, info)

        start = None if initial is None else np.asarray(initial)[:, view.free]
        self._minimize(view, evaluate, seed, report, start)

    def _minimize(self, problem: Problem, evaluate, seed: int, report, initial) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------ shared by the engines

    def typed(self, problem: Problem) -> bool:
        return problem.integer and is_typed(variable_types(problem))

    def mutation_prob(self, n_var: int) -> float:
        return self.cfg.mutation_prob if self.cfg.mutation_prob is not None else 1.0 / max(n_var, 1)

    def running(self, gen: int, problem: Problem) -> bool:
        """Whether generation ``gen`` (0-based) runs: within ``generations``, budget left, not stalled."""
        limit = self.cfg.generations
        if limit is not None and gen >= limit:
            return False
        if problem.exhausted:
            return False
        return limit is not None or self._stall < STALL_GENERATIONS

    def affordable(self, problem: Problem, X: np.ndarray) -> int:
        """How many leading rows of ``X`` to evaluate: the budget's prefix (rows sent are remembered)."""
        n = problem.budget_prefix(X) if len(X) else 0
        self.history.add(X[:n])
        return n

    def evaluated(self, G: np.ndarray) -> None:
        """Book-keeping after a generation's evaluation: count generations with nothing feasible."""
        G = np.asarray(G)
        feasible = np.all(G <= 0, axis=1) if G.size else np.ones(len(G), dtype=bool)
        self._stall = 0 if feasible.any() else self._stall + 1

    def sample(self, problem: Problem, rng: np.random.Generator, n: int, initial=None) -> np.ndarray:
        """``n`` distinct starting vectors: the rows of ``initial`` first, then uniform random ones."""
        rows = [] if initial is None else [np.asarray(x) for x in initial]
        keys = set()
        out = []
        for x in rows:
            k = History.key(x)
            if k not in keys and len(out) < n:
                keys.add(k)
                out.append(x)
        xl, xu = np.asarray(problem.xl), np.asarray(problem.xu)
        for _ in range(50 * n):
            if len(out) >= n:
                break
            x = rng.integers(xl, xu + 1) if problem.integer else rng.uniform(xl, xu)
            k = History.key(x)
            if k not in keys:
                keys.add(k)
                out.append(x)
        dtype = int if problem.integer else float
        return np.array(out, dtype=dtype).reshape(len(out), problem.n_var)


def build_engine(cfg: EngineConfig) -> Engine:
    """The engine ``cfg.name``; wrapped in the surrogate-assisted loop when ``cfg.surrogate`` is on."""
    engine = ENGINES.get(cfg.name, key="engine.name")(cfg)
    surrogate = getattr(cfg, "surrogate", None)
    if surrogate is not None and surrogate.enabled:
        return WRAPPERS.get("surrogate")(cfg, engine)
    return engine
