"""In-process evaluation on this machine's device (CPU or one GPU), one candidate at a time."""

from . import EVALUATORS
from .base import Evaluator


@EVALUATORS.register("local")
class LocalEvaluator(Evaluator):
    name = "local"
