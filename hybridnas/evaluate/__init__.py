"""Evaluators: ``evaluate_batch(candidates) -> results``; where the training runs is theirs."""

from ..config import RunConfig
from ..registry import CONFIG_HOOKS, Registry

EVALUATORS = Registry(
    "evaluator",
    modules=["hybridnas.evaluate.local", "hybridnas.evaluate.ray", "hybridnas.evaluate.table"],
)


@CONFIG_HOOKS.register("evaluation.evaluator")
def check_evaluator(cfg: RunConfig, source: str = "config") -> None:
    """The config's ``evaluation.evaluator`` hook: a known evaluator, and its own checks."""
    EVALUATORS.get(cfg.evaluation.evaluator, key="evaluation.evaluator").check_config(cfg, source)
