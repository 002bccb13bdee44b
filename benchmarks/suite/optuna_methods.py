"""Optuna's multi-objective samplers as table searches (``pip install 'hybridnas[bench]'``).

- ``optuna-tpe``: ``TPESampler(multivariate=True)`` (joint densities over the genes; otherwise
  Optuna's defaults);
- ``optuna-nsga2``: ``NSGAIISampler`` with hybridnas' population (its default of 50 is a random
  search at these budgets).

Ordinal genes are integer parameters, the others categorical; costs are given as log10, the
scale of the measure. A repeated network is answered again, free; a combination the table lacks
is told as the worst of everything. A study stops after ``MAX_CALLS`` trials per distinct network
wanted (it is then marked short of the budget).
"""

from __future__ import annotations

import warnings

MAX_CALLS = 5  # trials per distinct network wanted: a study that keeps repeating itself stops there


def _sampler(name: str, seed: int, pop: int):
    import optuna

    if name == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)


def optuna_search(oracle, seed: int, pop: int, sampler: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(directions=["minimize"] * len(oracle.objectives),
                                    sampler=_sampler(sampler, seed, pop))
    genes = oracle.genes
    while not oracle.done and oracle.calls < MAX_CALLS * oracle.n:
        trial = study.ask()
        x = [trial.suggest_int(g.name, g.low, g.high) if g.vtype == "ordinal"
             else trial.suggest_categorical(g.name, list(range(g.low, g.high + 1))) for g in genes]
        f = oracle.evaluate(x)
        study.tell(trial, [1e9] * len(oracle.objectives) if f is None else [float(v) for v in f])


def tpe(oracle, seed: int, pop: int) -> None:
    optuna_search(oracle, seed, pop, "optuna-tpe")


def nsga2(oracle, seed: int, pop: int) -> None:
    optuna_search(oracle, seed, pop, "optuna-nsga2")
