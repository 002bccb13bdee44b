"""The table evaluator: a tabular space's results are looked up in its CSV, nothing is trained."""

from __future__ import annotations

from typing import List, Optional

from ..config import RunConfig
from ..data import Dataset
from ..training import TrainSettings
from . import EVALUATORS
from .base import Evaluator
from .candidate import Candidate, OnResult, failure


@EVALUATORS.register("table")
class TableEvaluator(Evaluator):
    name = "table"

    def __init__(self, cfg: RunConfig, data: Optional[Dataset] = None, device=None,
                 settings: Optional[TrainSettings] = None, workdir=None):
        from ..space.table import load_table

        self.cfg = cfg
        self.data = data
        self.device = device
        self.settings = settings
        self.workdir = workdir
        self.table = load_table(cfg)

    def _run(self, candidates: List[Candidate], done: OnResult) -> None:
        for c in candidates:
            row = self.table.row(self.table.spec.encode(c.arch["genes"]))
            if row is None:
                done(c, failure(c, "not_in_table", f"no row in table {self.table.path.name}"))
            else:
                done(c, {**self.table.results(row), "arch_id": c.arch_id, "epochs": c.epochs, "status": "ok"})
