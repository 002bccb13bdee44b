"""TensorBoard: scalars of a search as it runs, in ``RUN/tensorboard/`` (``--track tensorboard``).

Per evaluation (step: the evaluation's number in the run): ``evaluation/val_acc`` and the run's
objectives (``evaluation/params``, ``evaluation/flops``...), and ``evaluation/best_val_acc``, the
best so far. Per generation (step: the generation): ``generation/best_val_acc`` and
``generation/params_of_best`` (the most accurate member of the front), ``generation/front_size``,
``generation/hypervolume``, ``generation/evaluated``. The resolved config is a text summary.
A resumed search writes a new event file beside the first, continuing the steps.

Written with ``torch.utils.tensorboard`` (needs the ``tensorboard`` extra);
view with ``tensorboard --logdir RUN/tensorboard``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from ..callbacks import Callback
from ..store.layout import TENSORBOARD_DIR
from .metrics import evaluation_metrics, front_metrics


class TensorBoardCallback(Callback):
    """``log_dir``: where the event files go (default ``RUN/tensorboard``)."""

    def __init__(self, log_dir: Optional[str] = None):
        from ..errors import require

        require("tensorboard", "tensorboard", "tracking a search in TensorBoard")
        self.log_dir = log_dir
        self.writer = None
        self.step = 0
        self.best: Optional[float] = None

    def on_start(self, run) -> None:
        from torch.utils.tensorboard import SummaryWriter

        from ..config import dump_yaml

        log_dir = Path(self.log_dir) if self.log_dir else run.path / TENSORBOARD_DIR
        self.writer = SummaryWriter(log_dir=str(log_dir))
        done = run.results.records(status=None, budget="all")  # a resume continues the steps
        self.step = len(done)
        accs = [r["val_acc"] for r in run.records if r.get("val_acc") is not None]
        self.best = max(accs) if accs else None
        if not done:
            self.writer.add_text("config", "```\n" + dump_yaml(run.config) + "\n```", 0)

    def on_evaluation(self, run, record: Dict[str, Any]) -> None:
        self.step += 1
        from ..core.objectives import top_budget

        values = evaluation_metrics(run, record)
        if "val_acc" in values and record.get("epochs") == top_budget(run.config):  # the budget the front compares
            self.best = values["val_acc"] if self.best is None else max(self.best, values["val_acc"])
        if self.best is not None:
            values["best_val_acc"] = self.best
        for k, v in values.items():
            self.writer.add_scalar(f"evaluation/{k}", v, self.step)

    def on_generation(self, run, summary: Dict[str, Any]) -> None:
        for k, v in front_metrics(run, summary).items():
            self.writer.add_scalar(f"generation/{k}", v, int(summary["generation"]))
        self.writer.flush()  # a TensorBoard open on the run shows each generation as it ends

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
