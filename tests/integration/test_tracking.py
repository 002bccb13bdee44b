"""``hybridnas search --track tensorboard --track mlflow`` on one tiny search, read back: the event
file with TensorBoard's EventAccumulator, the MLflow store with MLflow's client; a resumed search
continues both without repeating a step; the console output of the CLI is today's, and search.log
holds it; a missing extra is one line and writes nothing."""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest

from hybridnas.cli.main import main
from tests.conftest import TINY

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


def cli(*args):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, err.getvalue()


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path_factory.mktemp("runs")
    code, err = cli("search", TINY, "--out", out, "--name", "t", "--no-export", "--track", "tensorboard",
                    "--track", "mlflow")
    assert code == 0, err
    return out / "t", err


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def generations(run):
    return [json.loads(p.read_text()) for p in sorted((run / "generations").glob("gen_*.json"))]


def scalars(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def mlflow_run(run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{(run / 'mlruns' / 'mlflow.db').resolve()}")
    exp = client.get_experiment_by_name("hybridnas")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1  # one hybridnas run, one MLflow run (a resume continues it)
    return client, runs[0]


def same(got, want):
    """Scalar series equal: the same steps, values equal to float32 precision (TensorBoard's)."""
    return [a for a, _ in got] == [a for a, _ in want] and [b for _, b in got] == pytest.approx([b for _, b in want])


def front(run):
    return json.loads((run / "front.json").read_text())["members"]


def test_tensorboard_has_a_scalar_per_evaluation_and_generation(tracked):
    run, _ = tracked
    s = scalars(run)
    gens = generations(run)
    assert same(s["generation/hypervolume"], [(g["generation"], g["hypervolume"]) for g in gens])
    assert s["generation/front_size"] == [(g["generation"], len(g["front"])) for g in gens]
    assert s["generation/evaluated"] == [(g["generation"], g["evaluated"]) for g in gens]
    records = [json.loads(l) for l in (run / "evaluations.jsonl").read_text().splitlines()]
    assert same(s["evaluation/val_acc"], [(i + 1, r["val_acc"]) for i, r in enumerate(records)])
    assert s["evaluation/params"] == [(i + 1, r["params"]) for i, r in enumerate(records)]
    best = max(front(run), key=lambda r: (r["val_acc"], -r["params"]))
    assert s["generation/best_val_acc"][-1][1] == pytest.approx(best["val_acc"])
    assert s["generation/params_of_best"][-1][1] == best["params"]
    assert s["evaluation/best_val_acc"][-1][1] == pytest.approx(max(r["val_acc"] for r in records))


def test_mlflow_has_the_config_metrics_per_generation_and_the_front(tracked, tmp_path):
    run, _ = tracked
    client, r = mlflow_run(run)
    assert r.info.status == "FINISHED" and r.info.run_name == "t"
    assert r.data.params["engine.pop_size"] == "6" and r.data.params["name"] == "tiny"
    assert r.data.tags["hybridnas.run"] == str(run.resolve())
    hv = client.get_metric_history(r.info.run_id, "hypervolume")
    assert same([(m.step, m.value) for m in hv], [(g["generation"], g["hypervolume"]) for g in generations(run)])
    assert {a.path for a in client.list_artifacts(r.info.run_id)} == {"front.csv", "front.json", "summary.json"}
    got = client.download_artifacts(r.info.run_id, "front.json", str(tmp_path))
    assert json.loads(open(got).read())["members"] == front(run)


def test_console_output_is_unchanged_and_search_log_holds_it(tracked):
    run, err = tracked
    shown = err.splitlines()
    assert shown[0].startswith(f"run {run} | digits") and any(l.startswith("network search [") for l in shown)
    log = [l.split(": ", 1)[1] for l in (run / "search.log").read_text().splitlines() if l[:4].isdigit()]
    assert log == shown  # every line the console showed, in order, and nothing else


def test_a_resume_continues_both_trackers_without_repeating_a_step(tracked):
    run, _ = tracked
    code, err = cli("search", "--resume", run, "--quiet", "--set", "engine.generations=4", "--track", "tensorboard",
                    "--track", "mlflow")
    assert code == 0 and err.startswith("hybridnas search: note: extending run") and len(err.splitlines()) == 1, err
    s = scalars(run)
    assert [step for step, _ in s["generation/hypervolume"]] == [0, 1, 2, 3]
    n = len((run / "evaluations.jsonl").read_text().splitlines())
    assert [step for step, _ in s["evaluation/val_acc"]] == list(range(1, n + 1))
    client, r = mlflow_run(run)
    assert r.info.status == "FINISHED" and r.data.params["engine.generations"] == "3"  # params as first logged
    assert [m.step for m in client.get_metric_history(r.info.run_id, "hypervolume")] == [0, 1, 2, 3]
    assert (run / "search.log").read_text().count(f"INFO hybridnas: run {run} |") == 2  # --quiet still logs


def test_a_missing_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    from hybridnas.errors import _pip

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed: import fails
    code, err = cli("search", TINY, "--out", tmp_path, "--name", "x", "--track", "tensorboard")
    assert code == 2 and err.strip().splitlines() == [
        "hybridnas search: error: tracking a search in TensorBoard needs the 'tensorboard' package, which is "
        f"not installed; install it with: {_pip()} install 'hybridnas[tensorboard]'"]  # the environment's pip
    assert not (tmp_path / "x").exists()
