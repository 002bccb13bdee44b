"""Baselines that are not hybridnas: uniform random, multi-objective local search, pymoo's MixedVariableGA.

Each is a function ``(oracle, seed, pop)`` that asks :class:`~suite.oracle.Oracle` for networks
until it stops; the oracle counts distinct networks and ends the method at its budget.
"""

from __future__ import annotations

import numpy as np

from hybridnas.core.moo import non_dominated
from hybridnas.device import derive_seed

MAX_CALLS = 20  # a method may ask this many times per distinct network wanted (repeats are free) before it stops


def random_search(oracle, seed: int, pop: int) -> None:
    """Uniform samples of the genes; repeats and combinations the table lacks are skipped."""
    rng = np.random.default_rng(derive_seed(seed, "random-search"))
    while not oracle.done and oracle.calls < MAX_CALLS * oracle.n:
        oracle.evaluate(oracle.sample(rng))


def local_search(oracle, seed: int, pop: int) -> None:
    """Multi-objective local search: ``pop`` random networks, then again and again one unvisited
    one-gene neighbour of a random non-dominated network (White et al. 2021; Den Ottelander et
    al. 2021). A member whose neighbours are all visited is passed over; when every member's are,
    a random network restarts the walk."""
    rng = np.random.default_rng(derive_seed(seed, "local-search"))
    X, F = [], []

    def ask(x):
        before = len(oracle.order)
        f = oracle.evaluate(x)
        if len(oracle.order) > before:
            X.append(np.asarray(x))
            F.append(f)

    while len(X) < min(pop, oracle.n) and oracle.calls < MAX_CALLS * oracle.n:
        ask(oracle.sample(rng))
    while not oracle.done and oracle.calls < MAX_CALLS * oracle.n:
        front = list(np.flatnonzero(non_dominated(np.array(F))))
        rng.shuffle(front)
        for i in front:
            moves = unvisited_neighbours(oracle, X[i])
            if moves:
                ask(moves[rng.integers(len(moves))])
                break
        else:
            ask(oracle.sample(rng))


def unvisited_neighbours(oracle, x) -> list:
    """Gene codes one gene away from ``x`` that the table holds and the search has not met."""
    out = []
    for j, g in enumerate(oracle.genes):
        for v in range(g.low, g.high + 1):
            if v != x[j]:
                y = np.array(x, copy=True)
                y[j] = v
                aid = oracle.arch_id(y)
                if aid is not None and aid not in oracle.seen:
                    out.append(y)
    return out


def mixed_variable_ga(oracle, seed: int, pop: int) -> None:
    """pymoo's ``MixedVariableGA`` with NSGA-II survival: categorical genes as ``Choice`` (uniform
    crossover, random reset), ordinal ones as ``Integer`` (SBX, polynomial mutation, rounding), each
    gene mutated with probability 1/n_genes (pymoo's default mutates far more: nearly a random
    search); duplicates removed within a generation, repeats across generations free."""
    from pymoo.core.mixed import MixedVariableDuplicateElimination, MixedVariableGA, MixedVariableMating
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.core.variable import Choice, Integer
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.mutation.rm import ChoiceRandomMutation
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
    from pymoo.optimize import minimize

    genes = oracle.genes
    m = len(oracle.objectives)
    rate = 1.0 / len(genes)

    class TableProblem(ElementwiseProblem):
        def __init__(self):
            vars = {g.name: Integer(bounds=(g.low, g.high)) if g.vtype == "ordinal" and g.size > 2
                    else Choice(options=list(range(g.low, g.high + 1))) for g in genes}
            super().__init__(vars=vars, n_obj=m, n_ieq_constr=1)

        def _evaluate(self, x, out, *args, **kwargs):
            f = oracle.evaluate([int(x[g.name]) for g in genes])
            out["F"] = np.full(m, 1e9) if f is None else f
            out["G"] = [1.0 if f is None else -1.0]

    mating = MixedVariableMating(
        crossover={Choice: UX(), Integer: SBX(vtype=float, repair=RoundingRepair())},
        mutation={Choice: ChoiceRandomMutation(prob_var=rate),
                  Integer: PM(vtype=float, repair=RoundingRepair(), prob_var=rate)},
        eliminate_duplicates=MixedVariableDuplicateElimination())
    algorithm = MixedVariableGA(pop_size=pop, mating=mating, survival=RankAndCrowding())
    minimize(TableProblem(), algorithm, ("n_evals", MAX_CALLS * oracle.n), seed=seed % (2 ** 31), verbose=False)
