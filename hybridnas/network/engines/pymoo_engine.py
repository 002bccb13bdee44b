"""pymoo engine (default): NSGA-II, NSGA-III or SMS-EMOA through pymoo's ask-and-tell loop.

Integer genes use pymoo's recipe for discrete problems: integer random sampling, SBX and
polynomial mutation on the real line with rounding repair, and duplicate elimination.
"""

from __future__ import annotations

import numpy as np

from . import ENGINES, Engine


@ENGINES.register("pymoo")
class PymooEngine(Engine):
    name = "pymoo"
    algorithms = ("nsga2", "nsga3", "smsemoa")

    def _build(self, problem):
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import FloatRandomSampling, IntegerRandomSampling

        c = self.cfg
        pm = self.mutation_prob(problem.n_var)
        if problem.integer:
            ops = dict(
                sampling=IntegerRandomSampling(),
                crossover=SBX(prob=c.crossover_prob, eta=15, vtype=float, repair=RoundingRepair()),
                mutation=PM(prob=1.0, prob_var=pm, eta=20, vtype=float, repair=RoundingRepair()),
            )
        else:
            ops = dict(
                sampling=FloatRandomSampling(),
                crossover=SBX(prob=c.crossover_prob, eta=15),
                mutation=PM(prob=1.0, prob_var=pm, eta=20),
            )
        if c.algorithm == "nsga2":
            from pymoo.algorithms.moo.nsga2 import NSGA2

            return NSGA2(pop_size=c.pop_size, eliminate_duplicates=True, **ops)
        if c.algorithm == "smsemoa":
            from pymoo.algorithms.moo.sms import SMSEMOA

            return SMSEMOA(pop_size=c.pop_size, eliminate_duplicates=True, **ops)
        from pymoo.algorithms.moo.nsga3 import NSGA3
        from pymoo.util.ref_dirs import get_reference_directions

        parts = 1
        while _n_dirs(problem.n_obj, parts + 1) <= c.pop_size:
            parts += 1
        ref_dirs = get_reference_directions("das-dennis", problem.n_obj, n_partitions=parts)
        return NSGA3(ref_dirs=ref_dirs, pop_size=c.pop_size, eliminate_duplicates=True, **ops)

    def _minimize(self, problem, evaluate, seed, report):
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem as PymooProblem
        from pymoo.problems.static import StaticProblem

        pp = PymooProblem(
            n_var=problem.n_var,
            n_obj=problem.n_obj,
            n_ieq_constr=problem.n_constr,
            xl=problem.xl,
            xu=problem.xu,
            vtype=int if problem.integer else float,
        )
        algorithm = self._build(problem)
        algorithm.setup(pp, termination=("n_gen", self.cfg.generations), seed=seed, verbose=False)
        gen = 0
        while algorithm.has_next():
            pop = algorithm.ask()
            if pop is None or len(pop) == 0:  # no unseen offspring left (a small space is exhausted)
                break
            X = pop.get("X")
            if problem.integer:
                X = np.rint(X).astype(int)
            F, G = evaluate(X)
            static = StaticProblem(pp, F=np.asarray(F, float), G=np.asarray(G, float)) if problem.n_constr else StaticProblem(pp, F=np.asarray(F, float))
            Evaluator().eval(static, pop)
            algorithm.tell(infills=pop)
            cur = algorithm.pop
            G_cur = cur.get("G") if problem.n_constr else np.zeros((len(cur), 0))
            report(gen, cur.get("X"), cur.get("F"), G_cur)
            gen += 1


def _n_dirs(n_obj: int, parts: int) -> int:
    from math import comb

    return comb(parts + n_obj - 1, n_obj - 1)
