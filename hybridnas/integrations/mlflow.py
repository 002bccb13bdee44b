"""MLflow: a search as an MLflow run (``--track mlflow``).

The run's parameters are the resolved config (dotted keys: ``engine.pop_size``); its metrics,
per generation (step: the generation), ``best_val_acc``, ``params_of_best``, ``front_size``,
``hypervolume``, ``evaluated``; at the end the front (``front.csv``, ``front.json``) and
``summary.json`` are artifacts and the run is marked finished (killed when the search stopped
or failed). The MLflow run is named after the run directory and tagged ``hybridnas.run`` with its
path, so a resumed search continues the same MLflow run.

Where: ``MLFLOW_TRACKING_URI`` when set (a server, a database), else a store inside the run:
``RUN/mlruns/mlflow.db`` (SQLite; MLflow's file store is deprecated) with artifacts in
``RUN/mlruns/artifacts``. Browse it with
``mlflow ui --backend-store-uri sqlite:///RUN/mlruns/mlflow.db``. Needs the ``mlflow`` extra
(``mlflow-skinny`` and SQLAlchemy); the client is used directly, so a fluent run the caller has
open (``mlflow.start_run``) is left alone.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

from ..callbacks import Callback
from ..store.layout import FRONT_CSV, FRONT_JSON, MLFLOW_DIR, SUMMARY
from .metrics import front_metrics

TAG = "hybridnas.run"


def flatten(d: Dict[str, Any], prefix: str = "") -> Dict[str, str]:
    """``{"engine": {"pop_size": 6}}`` -> ``{"engine.pop_size": "6"}`` (MLflow params are text)."""
    out: Dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = str(v)[:500]
    return out


def default_uri(run_path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(run_path / MLFLOW_DIR / 'mlflow.db').resolve()}"


class MLflowCallback(Callback):
    """``tracking_uri``: where (default: module docstring); ``experiment``: the MLflow experiment
    (default ``hybridnas``)."""

    def __init__(self, tracking_uri: Optional[str] = None, experiment: str = "hybridnas"):
        from ..errors import require

        require("mlflow", "mlflow", "tracking a search in MLflow")
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client = None
        self.run_id: Optional[str] = None
        self.finished = False

    def on_start(self, run) -> None:
        from mlflow.tracking import MlflowClient

        from ..config import to_dict

        uri = self.tracking_uri or default_uri(run.path)
        local = uri.startswith("sqlite:///") and not self.tracking_uri and "MLFLOW_TRACKING_URI" not in os.environ
        if local:
            (run.path / MLFLOW_DIR).mkdir(exist_ok=True)
        quiet = [logging.getLogger(n) for n in ("mlflow.store.db.utils", "alembic")]  # table creation chatter
        levels = [q.level for q in quiet]
        try:
            for q in quiet:
                q.setLevel(logging.WARNING)
            self.client = MlflowClient(tracking_uri=uri)
            exp = self.client.get_experiment_by_name(self.experiment)
        finally:
            for q, lv in zip(quiet, levels):
                q.setLevel(lv)
        if exp is None:
            where = (run.path / MLFLOW_DIR / "artifacts").resolve().as_uri() if local else None
            exp_id = self.client.create_experiment(self.experiment, artifact_location=where)
        else:
            exp_id = exp.experiment_id
        path = str(run.path.resolve())
        found = self.client.search_runs([exp_id], filter_string=f"tags.`{TAG}` = '{path}'", max_results=1)
        if found:  # a resumed search: the same MLflow run
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            logged = found[0].data.params
        else:
            r = self.client.create_run(exp_id, run_name=run.path.name, tags={TAG: path})
            self.run_id, logged = r.info.run_id, {}
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in flatten(to_dict(run.config)).items() if k not in logged]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def on_generation(self, run, summary: Dict[str, Any]) -> None:
        import time

        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), int(summary["generation"])
        metrics = [Metric(k, v, now, step) for k, v in front_metrics(run, summary).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_end(self, run, summary: Dict[str, Any]) -> None:
        for name in (FRONT_CSV, FRONT_JSON, SUMMARY):
            if (run.path / name).exists():
                self.client.log_artifact(self.run_id, str(run.path / name))
        self.client.set_terminated(self.run_id, status="FINISHED")
        self.finished = True

    def close(self) -> None:
        if self.run_id is not None and not self.finished:
            self.client.set_terminated(self.run_id, status="KILLED")
        self.run_id = None
