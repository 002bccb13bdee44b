"""DEAP engine: NSGA-II written with DEAP's non-dominated sorting and selection.

Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEC 2002.
Constraints use Deb's constraint-domination through a fitness class whose ``dominates`` puts
feasible before infeasible and ranks infeasible ones by total violation. Variation: binary
tournament on (rank, crowding); integer genes by type with the same operators as the pymoo
engine (:mod:`.variation`: uniform crossover, random-reset or step mutation, at least one gene
changed per child), real ones by SBX and polynomial mutation (bounded). An offspring that repeats
any vector the run has evaluated is mutated again (up to 20 times), else dropped.
DEAP draws from Python's ``random``; the engine keeps its own ``random.Random`` state and swaps it
in around every DEAP call, so nothing else in the process can shift its stream; the typed
operators draw from the engine's own numpy generator.
"""

from __future__ import annotations

import random
from typing import List

import numpy as np

from .base import ENGINES, Engine, variable_types
from .variation import History, crossover, mutate

RETRIES = 20  # re-mutations of an offspring that repeats an earlier vector before it is dropped


def _fitness_class(n_obj: int):
    from deap import base

    class ConstrainedFitness(base.Fitness):
        weights = (-1.0,) * n_obj

        def __init__(self, values=(), cv: float = 0.0):
            super().__init__(values)
            self.cv = cv

        def dominates(self, other, obj=slice(None)):
            if self.cv <= 0 and other.cv > 0:
                return True
            if self.cv > 0:
                return other.cv > 0 and self.cv < other.cv
            return super().dominates(other, obj)

        def __hash__(self):
            return hash((self.wvalues, self.cv))

        def __eq__(self, other):
            return self.wvalues == other.wvalues and self.cv == other.cv

        def __deepcopy__(self, memo):
            new = super().__deepcopy__(memo)
            new.cv = self.cv
            return new

    return ConstrainedFitness


class _Individual(list):
    fitness = None


@ENGINES.register("deap")
class DeapEngine(Engine):
    name = "deap"
    algorithms = ("nsga2",)

    def _minimize(self, problem, evaluate, seed, report, initial):
        from deap import tools

        rng = random.Random(seed)
        nrng = np.random.default_rng(seed)
        Fitness = _fitness_class(problem.n_obj)
        lo = [float(v) for v in problem.xl]
        up = [float(v) for v in problem.xu]
        pm = self.mutation_prob(problem.n_var)
        n = self.cfg.pop_size
        typed = self.typed(problem)
        vtypes = variable_types(problem)

        def with_rng(fn, *args, **kw):
            outer = random.getstate()
            random.setstate(rng.getstate())
            try:
                return fn(*args, **kw)
            finally:
                rng.setstate(random.getstate())
                random.setstate(outer)

        def make(values) -> _Individual:
            ind = _Individual(values)
            ind.fitness = Fitness()
            ind.G = np.zeros(problem.n_constr)
            return ind

        def as_array(inds):
            return np.array([list(i) for i in inds],
                            dtype=int if problem.integer else float).reshape(len(inds), problem.n_var)

        def assign(inds: List[_Individual]) -> List[_Individual]:
            """Evaluate what the budget pays for; returns the individuals evaluated."""
            todo = [i for i in inds if not i.fitness.valid]
            if not todo:
                return []
            todo = todo[: self.affordable(problem, as_array(todo))]
            if not todo:
                return []
            F, G = evaluate(as_array(todo))
            G = np.asarray(G, float).reshape(len(todo), problem.n_constr)
            for ind, f, g in zip(todo, np.atleast_2d(F), G):
                ind.fitness.values = tuple(float(v) for v in f)
                ind.G = g
                ind.fitness.cv = float(np.maximum(g, 0).sum()) if len(g) else 0.0
            self.evaluated(G)
            return todo

        def rank_and_crowd(inds):
            fronts = tools.sortNondominated(inds, len(inds))
            for r, front in enumerate(fronts):
                tools.emo.assignCrowdingDist(front)
                for ind in front:
                    ind.rank = r

        def better(a, b):
            if a.rank != b.rank:
                return a if a.rank < b.rank else b
            return a if a.fitness.crowding_dist >= b.fitness.crowding_dist else b

        def publish(gen, pop):
            report(gen, as_array(pop), np.array([i.fitness.values for i in pop]), self._G(pop, problem))

        def offspring_of(pop) -> List[_Individual]:
            parents = [better(rng.choice(pop), rng.choice(pop)) for _ in range(n)]
            if typed:
                A, B = as_array(parents[::2]), as_array(parents[1::2])
                m = min(len(A), len(B))
                cross = nrng.random(m) < self.cfg.crossover_prob
                C, D = crossover(A[:m], B[:m], vtypes, nrng)
                kids = np.concatenate([np.where(cross[:, None], C, A[:m]), np.where(cross[:, None], D, B[:m]), A[m:]])
                kids = mutate(kids, vtypes, problem.xl, problem.xu, pm, nrng)
                out, fresh = [], set()
                for x in kids:
                    for _ in range(RETRIES):
                        if History.key(x) not in fresh and x not in self.history:
                            break
                        self.history.rejected += 1
                        x = mutate(x[None], vtypes, problem.xl, problem.xu, pm, nrng)[0]
                    else:
                        continue  # still a repeat: dropped
                    fresh.add(History.key(x))
                    out.append(make([int(v) for v in x]))
                return out
            offspring = [make(list(p)) for p in parents]
            for a, b in zip(offspring[::2], offspring[1::2]):
                if rng.random() < self.cfg.crossover_prob:
                    with_rng(tools.cxSimulatedBinaryBounded, a, b, eta=15.0, low=lo, up=up)
            out = []
            for ind in offspring:
                with_rng(tools.mutPolynomialBounded, ind, eta=20.0, low=lo, up=up, indpb=pm)
                for k in range(len(ind)):
                    ind[k] = min(max(ind[k], lo[k]), up[k])
                if self.history.new(np.array([list(ind)]))[0]:
                    out.append(ind)
            return out

        if not self.running(0, problem):
            return
        pop = [make(list(x)) for x in self.sample(problem, nrng, n, initial)]
        pop = assign(pop)
        if not pop:
            return
        pop = with_rng(tools.selNSGA2, pop, n)
        rank_and_crowd(pop)
        publish(0, pop)

        gen = 1
        while self.running(gen, problem):
            offspring = assign(offspring_of(pop))
            if not offspring:  # nothing new left to propose, or no budget
                break
            pop = with_rng(tools.selNSGA2, pop + offspring, n)
            rank_and_crowd(pop)
            publish(gen, pop)
            gen += 1

    @staticmethod
    def _G(pop, problem):
        return np.array([i.G for i in pop]).reshape(len(pop), problem.n_constr)
