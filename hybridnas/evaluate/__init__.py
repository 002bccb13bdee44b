"""Evaluators: ``evaluate_batch(candidates) -> results``; where the training runs is theirs."""

from ..registry import Registry

EVALUATORS = Registry(
    "evaluator",
    modules=["hybridnas.evaluate.local", "hybridnas.evaluate.ray", "hybridnas.evaluate.table"],
)
