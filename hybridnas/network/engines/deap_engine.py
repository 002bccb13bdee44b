"""DEAP engine: NSGA-II written with DEAP's operators and non-dominated sorting.

Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE TEC 2002.
Constraints use Deb's constraint-domination through a fitness class whose ``dominates`` puts
feasible before infeasible and ranks infeasible ones by total violation. Variation: binary
tournament on (rank, crowding), SBX crossover and polynomial mutation (bounded), rounding for
integer genes, and re-mutation of offspring that duplicate a genome already seen this generation.
DEAP draws from Python's ``random``; the engine keeps its own ``random.Random`` state and swaps it
in around every DEAP call, so nothing else in the process can shift its stream.
"""

from __future__ import annotations

import random
from typing import List

import numpy as np

from . import ENGINES, Engine


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

    def _minimize(self, problem, evaluate, seed, report):
        from deap import tools

        rng = random.Random(seed)
        Fitness = _fitness_class(problem.n_obj)
        lo = [float(v) for v in problem.xl]
        up = [float(v) for v in problem.xu]
        pm = self.mutation_prob(problem.n_var)
        n = self.cfg.pop_size

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

        def fix(ind):
            for k in range(len(ind)):
                v = min(max(ind[k], lo[k]), up[k])
                ind[k] = int(round(v)) if problem.integer else v
            return ind

        def key(ind):
            return tuple(ind)

        def sample():
            if problem.integer:
                return make([rng.randint(int(a), int(b)) for a, b in zip(lo, up)])
            return make([rng.uniform(a, b) for a, b in zip(lo, up)])

        def assign(inds: List[_Individual]):
            todo = [i for i in inds if not i.fitness.valid]
            if not todo:
                return
            X = np.array([list(i) for i in todo], dtype=int if problem.integer else float)
            F, G = evaluate(X)
            for ind, f, g in zip(todo, np.atleast_2d(F), np.atleast_2d(G) if problem.n_constr else [[]] * len(todo)):
                ind.fitness.values = tuple(float(v) for v in f)
                ind.G = np.asarray(g, float)
                ind.fitness.cv = float(np.maximum(ind.G, 0).sum()) if len(g) else 0.0

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

        def unique_sample(seen, tries=50):
            for _ in range(tries):
                ind = sample()
                if key(ind) not in seen:
                    return ind
            return ind

        pop: List[_Individual] = []
        seen = set()
        while len(pop) < n:
            ind = unique_sample(seen)
            seen.add(key(ind))
            pop.append(ind)
        assign(pop)
        pop = with_rng(tools.selNSGA2, pop, n)
        rank_and_crowd(pop)
        report(0, np.array([list(i) for i in pop]), np.array([i.fitness.values for i in pop]), self._G(pop, problem))

        for gen in range(1, self.cfg.generations):
            parents = [better(rng.choice(pop), rng.choice(pop)) for _ in range(n)]
            offspring = [make(list(p)) for p in parents]
            for a, b in zip(offspring[::2], offspring[1::2]):
                if rng.random() < self.cfg.crossover_prob:
                    with_rng(tools.cxSimulatedBinaryBounded, a, b, eta=15.0, low=lo, up=up)
            seen = {key(i) for i in pop}
            for ind in offspring:
                for _ in range(20):
                    with_rng(tools.mutPolynomialBounded, ind, eta=20.0, low=lo, up=up, indpb=pm)
                    fix(ind)
                    if key(ind) not in seen:
                        break
                seen.add(key(ind))
            assign(offspring)
            pop = with_rng(tools.selNSGA2, pop + offspring, n)
            rank_and_crowd(pop)
            report(gen, np.array([list(i) for i in pop]), np.array([i.fitness.values for i in pop]), self._G(pop, problem))

    @staticmethod
    def _G(pop, problem):
        return np.array([i.G for i in pop]).reshape(len(pop), problem.n_constr)
