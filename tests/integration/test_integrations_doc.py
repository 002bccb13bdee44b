"""The Python example of docs/integrations.md, run as written (on the tiny test space): callbacks,
the logger, TensorBoard, MLflow and the Optuna bridge together."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import ROOT

MARKER = "<!-- example: integrations (tested) -->"
PAGE = ROOT / "docs" / "integrations.md"


def example() -> str:
    text = PAGE.read_text()
    assert MARKER in text, "docs/integrations.md lost its tested example"
    return re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S).group(1)


def test_the_integrations_example_runs(tmp_path, monkeypatch, capsys):
    for extra in ("tensorboard", "mlflow", "optuna"):
        pytest.importorskip(extra)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the example names tests/spaces/tiny.yaml
    monkeypatch.chdir(tmp_path)
    logger = logging.getLogger("hybridnas")
    handlers, level = list(logger.handlers), logger.level
    try:
        exec(compile(example(), "docs/integrations.md (example)", "exec"), {"__name__": "integrations_example"})
    finally:
        for h in set(logger.handlers) - set(handlers):
            logger.removeHandler(h)
            h.close()
        logger.setLevel(level)
    out = capsys.readouterr().out.splitlines()
    assert [l.split(":")[0] for l in out[:2]] == ["generation 0", "generation 1"]
    n_study, n_run = re.match(r"(\d+) trials on the study's front, (\d+) models on the run's", out[2]).groups()
    assert n_study == n_run != "0"
    run = tmp_path / "runs" / "tracked"
    assert list((run / "tensorboard").glob("events.out.tfevents.*")) and (run / "mlruns" / "mlflow.db").exists()
    mine = (tmp_path / "all-searches.log").read_text()
    assert "run runs/tracked | digits" in mine and "network search [" in mine
