"""The CLI end to end on a tiny space: search, resume after a kill, plot, pick, export."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybridnas.cli.main import main
from tests.conftest import ROOT, TINY


def cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert cli("search", TINY, "--out", out, "--name", "a", "--quiet") == 0
    return out / "a"


def test_search_writes_the_run_store(finished_run):
    r = finished_run
    for f in ("config.yaml", "manifest.json", "dataset.json", "blocks.json", "evaluations.jsonl",
              "front.csv", "front.json", "summary.json", "hv_reference.json", "plots/front.png"):
        assert (r / f).exists(), f
    manifest = json.loads((r / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["packages"]["torch"]
    assert len(list((r / "generations").glob("gen_*.json"))) == 3
    assert (r / "front.csv").read_text().startswith("arch_id,genome,")  # a plain table: no comment lines
    assert "2 x macs" in json.loads((r / "front.json").read_text())["convention"]
    ids = [json.loads(l)["arch_id"] for l in (r / "evaluations.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)), "an architecture was trained twice"
    summary = json.loads((r / "summary.json").read_text())
    assert (r / summary["exported"]["path"] / "model.pt2").exists()
    assert not (r / ".lock").exists()


def test_pick_export_load_predict(finished_run, capsys):
    import torch

    import hybridnas

    assert cli("pick", finished_run, "--rule", "max-acc") == 0
    aid = capsys.readouterr().out.splitlines()[1].split()[0]
    assert cli("export", finished_run, "--id", aid[:8], "--format", "state,pt2,torchscript") == 0
    folder = finished_run / "exports" / aid
    model = hybridnas.load(folder)
    x = torch.zeros(2, 1, 8, 8)
    program = torch.export.load(str(folder / "model.pt2")).module()
    assert torch.allclose(model(x), program(x), atol=1e-5)
    card = json.loads((folder / "card.json").read_text())
    assert card["arch_id"] == aid and card["flops"] == 2 * card["macs"]
    picks = json.loads((finished_run / "picks.json").read_text())["picks"]
    assert picks[-1]["arch_ids"] == [aid]


def test_pick_with_impossible_limits_exits_2_naming_nearest(finished_run, capsys):
    assert cli("pick", finished_run, "--max-params", "10") == 2
    err = capsys.readouterr().err
    assert "no model on the front meets max_params=10" in err and "nearest" in err
    assert len(err.strip().splitlines()) == 1


def test_plot_command(finished_run):
    assert cli("plot", finished_run, "--format", "png,svg") == 0
    assert (finished_run / "plots" / "front.svg").exists()


def test_existing_name_is_refused(finished_run, capsys):
    assert cli("search", TINY, "--out", finished_run.parent, "--name", "a", "--quiet") == 2
    assert "--resume" in capsys.readouterr().err


def test_bad_flag_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        cli("search", "--no-such-flag")
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _records(run):
    p = run / "evaluations.jsonl"
    if not p.exists():
        return []
    return [json.loads(l) for l in p.read_text().splitlines() if l.endswith("}")]


MF = ["--set", "evaluation.epochs=2", "--set", "evaluation.fidelity.budgets=[1]"]


def _with_library(run: Path, finished: Path) -> Path:
    """A new run directory holding the finished run's block library: the search reuses it and
    goes straight to the network stage (the block stage's own resume is tested elsewhere)."""
    run.mkdir(parents=True)
    shutil.copy(finished / "blocks.json", run / "blocks.json")
    return run


@pytest.fixture(scope="module")
def mf_run(finished_run):
    run = _with_library(finished_run.parent / "mf", finished_run)
    assert cli("search", TINY, "--out", run.parent, "--name", "mf", "--quiet", *MF) == 0
    return run


def test_deap_engine_end_to_end(tmp_path):
    assert cli("search", TINY, "--out", tmp_path, "--name", "d", "--quiet", "--set", "engine.name=deap",
               "--set", "engine.generations=2") == 0
    run = tmp_path / "d"
    ids = [r["arch_id"] for r in _records(run)]
    assert ids and len(ids) == len(set(ids))
    assert len(list((run / "generations").glob("gen_*.json"))) == 2
    summary = json.loads((run / "summary.json").read_text())
    assert summary["front_size"] >= 1 and (run / summary["exported"]["path"] / "model.pt2").exists()
    import yaml

    assert yaml.safe_load((run / "config.yaml").read_text())["engine"]["name"] == "deap"


def test_multi_fidelity_records_budgets_and_promotes_the_non_dominated(mf_run):
    from hybridnas.core.moo import non_dominated
    from hybridnas.results import RunResults

    recs = _records(mf_run)
    keys = [(r["arch_id"], r["epochs"]) for r in recs]
    assert len(keys) == len(set(keys)), "a candidate was trained twice at one budget"
    low = {r["arch_id"]: r for r in recs if r["epochs"] == 1}
    high = [r for r in recs if r["epochs"] == 2]
    assert all(r["rung"] == 0 and r["schedule_epochs"] == 2 and r["trained_epochs"] == 1 for r in low.values())
    assert high and len(high) < len(low), "successive halving stopped nobody"
    for r in high:  # every promoted candidate was non-dominated among its rung's results so far
        first = low[r["arch_id"]]
        assert r["rung"] == 1 and first["generation"] <= r["generation"]
        # continued from the rung's checkpoint, unless promoted in a later generation
        assert r["trained_epochs"] == (1 if first["generation"] == r["generation"] else 2)
        archive = [q for q in low.values() if q["generation"] <= r["generation"]]
        F = [[1 - q["val_acc"], q["params"], q["flops"]] for q in archive]
        assert non_dominated(F)[[q["arch_id"] for q in archive].index(r["arch_id"])]
    assert not list((mf_run / "fidelity").glob("*.pt")), "checkpoints of finished rungs are left behind"
    results = RunResults(mf_run)
    assert {r["epochs"] for r in results.records()} == {2} and len(results.records(budget="all")) == len(recs)
    assert all(m["epochs"] == 2 for m in json.loads((mf_run / "front.json").read_text())["members"])
    gen = json.loads((mf_run / "generations" / "gen_000.json").read_text())
    promoted = sum(r["generation"] == 0 for r in high)
    assert gen["new_results"] == ({"1": 6, "2": promoted} if promoted else {"1": 6})
    assert gen["epochs_trained"] == 6 + promoted
    assert {m["epochs"] for m in gen["population"]} <= {1, 2}


@pytest.mark.parametrize("fidelity", [False, True], ids=["single-fidelity", "multi-fidelity"])
def test_resume_after_kill_mid_generation_trains_nothing_twice_and_gives_same_front(
        tmp_path, finished_run, mf_run, fidelity):
    reference = mf_run if fidelity else finished_run
    # kill in generation 1: after its first rung and one promoted training (multi-fidelity),
    # or after two of its trainings
    ref = [r for r in _records(reference) if r["generation"] == 1]
    stop = sum(r["epochs"] == 1 for r in ref) + 1 if fidelity else 2
    assert len(ref) > stop
    run = _with_library(tmp_path / "k", finished_run)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "hybridnas.cli.main", "search", TINY, "--out", str(tmp_path), "--name", "k", "--quiet"]
    proc = subprocess.Popen(cmd + (MF if fidelity else []), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if sum(r["generation"] == 1 for r in _records(run)) >= stop:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _records(run)
    assert any(r["generation"] == 1 for r in before) and not (run / "generations" / "gen_002.json").exists()
    assert cli("search", "--resume", run, "--quiet") == 0
    after = _records(run)
    keys = [(r["arch_id"], r["epochs"]) for r in after]
    assert len(keys) == len(set(keys)), "a candidate was trained twice"
    assert before == after[: len(before)]
    if fidelity:  # a rung after the kill continued from the checkpoint written before it
        firsts = {r["arch_id"]: r for r in after if r["epochs"] == 1}
        resumed = [r for r in after[len(before):]
                   if r["epochs"] == 2 and firsts[r["arch_id"]]["generation"] == r["generation"]]
        assert all(r["trained_epochs"] == 1 for r in resumed)
    front = lambda d: [(r["arch_id"], r["val_acc"]) for r in json.loads((d / "front.json").read_text())["members"]]
    assert front(run) == front(reference)
    assert sorted(keys) == sorted((r["arch_id"], r["epochs"]) for r in _records(reference))


def test_output_into_a_closed_pipe_stops_quietly(run_copy):
    """`hybridnas pick RUN | head -1`: a reader that goes away is no traceback."""
    p = subprocess.Popen([sys.executable, "-m", "hybridnas.cli.main", "pick", str(run_copy), "-n", "5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    p.stdout.close()  # the reader is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait() == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_resuming_a_finished_run_keeps_the_users_export_and_says_this_session(finished_run, tmp_path, capsys):
    run = tmp_path / "a"
    shutil.copytree(finished_run, run)
    first = json.loads((run / "summary.json").read_text())
    knee = first["exported"]
    folder = run / knee["path"]
    assert cli("export", run, "--id", knee["arch_id"], "--format", "state,torchscript") == 0
    mine = sorted(p.name for p in folder.iterdir())
    assert "model.ts" in mine and "model.pt2" not in mine
    capsys.readouterr()
    assert cli("search", "--resume", run, "--quiet") == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == mine, "the resume replaced the user's export"
    assert "(this session " in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed"] is True and summary["exported"] == knee
    # the first session's times and estimate are kept beside this one's
    assert [x["network_stage_s"] for x in summary["sessions"]] == [first["network_stage_s"], summary["network_stage_s"]]
    assert summary["search_s"] == pytest.approx(sum(x["block_stage_s"] + x["network_stage_s"]
                                                    for x in summary["sessions"]))
    assert summary["estimate"] == first["estimate"]


def test_keeping_no_weights_skips_the_automatic_export(tmp_path, capsys):
    assert cli("search", TINY, "--out", tmp_path, "--name", "nw", "--set", "evaluation.keep_weights=none") == 0
    err = capsys.readouterr().err
    assert "no model exported: evaluation.keep_weights is 'none'" in err
    run = tmp_path / "nw"
    assert (run / "summary.json").exists() and not (run / "exports").exists() and not (run / "weights").exists()
    assert "exported" not in json.loads((run / "summary.json").read_text())


def test_switching_the_block_strategy_says_what_is_dropped_even_when_quiet(tmp_path, capsys):
    assert cli("search", TINY, "--out", tmp_path, "--name", "s", "--quiet", "--no-export",
               "--block-strategy", "darts", "--set", "engine.generations=1") == 0
    err = capsys.readouterr().err
    assert "note: block strategy 'darts' replaces 'enhanced': its options cost, lam, mode are dropped" in err
    assert json.loads((tmp_path / "s" / "blocks.json").read_text())
    log = (tmp_path / "s" / "search.log").read_text()  # the note is in the run's log too
    assert "INFO hybridnas: hybridnas search: note: block strategy 'darts' replaces" in log


def test_flags_that_cannot_apply_are_named(finished_run, capsys):
    for flags, named in ((["--device", "cpu"], "--device"), (["--name", "other"], "--name"),
                         (["--block-strategy", "gdas"], "--block-strategy")):
        assert cli("search", "--resume", finished_run, *flags) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hybridnas search: error: {named} cannot change"), lines
    with pytest.raises(SystemExit) as e:
        cli("pick", finished_run, "--bogus")
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("hybridnas pick: error: unrecognized arguments: --bogus; "
                                              "see 'hybridnas pick --help'")
