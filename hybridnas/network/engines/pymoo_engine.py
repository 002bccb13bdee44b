"""pymoo engine (default): NSGA-II, NSGA-III or SMS-EMOA through pymoo's ask-and-tell loop.

Integer genes are varied by type (:mod:`.variation`, as pymoo operators in
:mod:`.pymoo_operators`): uniform crossover, random-reset or step mutation with at least one gene
changed per child; offspring that repeat any vector the run has evaluated are dropped and redrawn
(pymoo's mating retries). Real-valued problems use SBX and polynomial mutation. The loop sends
only what the evaluation budget pays for and stops when it is spent.
"""

from __future__ import annotations

import numpy as np

from .base import ENGINES, Engine, variable_types


@ENGINES.register("pymoo")
class PymooEngine(Engine):
    name = "pymoo"
    algorithms = ("nsga2", "nsga3", "smsemoa")

    def _build(self, problem, X0):
        from .pymoo_operators import HistoryElimination, TypedCrossover, TypedMutation

        c = self.cfg
        pm = self.mutation_prob(problem.n_var)
        if self.typed(problem):
            vtypes = variable_types(problem)
            ops = dict(crossover=TypedCrossover(vtypes, prob=c.crossover_prob), mutation=TypedMutation(vtypes, pm))
        else:
            from pymoo.operators.crossover.sbx import SBX
            from pymoo.operators.mutation.pm import PM

            ops = dict(crossover=SBX(prob=c.crossover_prob, eta=15), mutation=PM(prob=1.0, prob_var=pm, eta=20))
        ops.update(sampling=X0, eliminate_duplicates=HistoryElimination(self.history))
        if c.algorithm == "nsga2":
            from pymoo.algorithms.moo.nsga2 import NSGA2

            return NSGA2(pop_size=c.pop_size, **ops)
        if c.algorithm == "smsemoa":
            from pymoo.algorithms.moo.sms import SMSEMOA

            return SMSEMOA(pop_size=c.pop_size, **ops)
        from pymoo.algorithms.moo.nsga3 import NSGA3
        from pymoo.util.ref_dirs import get_reference_directions

        parts = 1
        while _n_dirs(problem.n_obj, parts + 1) <= c.pop_size:
            parts += 1
        ref_dirs = get_reference_directions("das-dennis", problem.n_obj, n_partitions=parts)
        return NSGA3(ref_dirs=ref_dirs, pop_size=c.pop_size, **ops)

    def _minimize(self, problem, evaluate, seed, report, initial):
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem as PymooProblem
        from pymoo.core.termination import NoTermination
        from pymoo.problems.static import StaticProblem

        pp = PymooProblem(
            n_var=problem.n_var,
            n_obj=problem.n_obj,
            n_ieq_constr=problem.n_constr,
            xl=problem.xl,
            xu=problem.xu,
            vtype=int if problem.integer else float,
        )
        X0 = self.sample(problem, np.random.default_rng(seed), self.cfg.pop_size, initial)
        algorithm = self._build(problem, X0)
        algorithm.setup(pp, termination=NoTermination(), seed=seed, verbose=False)
        gen = 0
        while self.running(gen, problem):
            pop = algorithm.ask()
            if pop is None or len(pop) == 0:  # no unseen offspring left (a small space is exhausted)
                break
            X = pop.get("X")
            if problem.integer:
                X = np.rint(X).astype(int)
            n = self.affordable(problem, X)
            if n == 0:
                break
            pop, X = pop[:n], X[:n]
            F, G = evaluate(X)
            G = np.asarray(G, float).reshape(len(X), problem.n_constr)
            static = (StaticProblem(pp, F=np.asarray(F, float), G=G) if problem.n_constr
                      else StaticProblem(pp, F=np.asarray(F, float)))
            Evaluator().eval(static, pop)
            algorithm.tell(infills=pop)
            self.evaluated(G)
            cur = algorithm.pop
            G_cur = cur.get("G") if problem.n_constr else np.zeros((len(cur), 0))
            report(gen, cur.get("X"), cur.get("F"), G_cur)
            gen += 1


def _n_dirs(n_obj: int, parts: int) -> int:
    from math import comb

    return comb(parts + n_obj - 1, n_obj - 1)
