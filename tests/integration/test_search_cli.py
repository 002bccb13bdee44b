"""The CLI end to end on a tiny space: search, resume after a kill, plot, pick, export."""

import json
import os
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
    assert (r / "front.csv").read_text().startswith("# hybridnas front")
    assert "2 x macs" in (r / "front.csv").read_text().splitlines()[1]
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


def test_resume_after_kill_trains_nothing_twice_and_gives_same_front(tmp_path, finished_run):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "hybridnas.cli.main", "search", TINY, "--out", str(tmp_path), "--name", "k", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = tmp_path / "k"
    deadline = time.time() + 120
    while time.time() < deadline and len(_records(run)) < 4 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _records(run)
    assert 4 <= len(before)
    assert cli("search", "--resume", run, "--quiet") == 0
    after = _records(run)
    ids = [r["arch_id"] for r in after]
    assert len(ids) == len(set(ids)), "a candidate was trained twice"
    assert {r["arch_id"] for r in before} <= set(ids)
    front = lambda d: [(r["arch_id"], r["val_acc"]) for r in json.loads((d / "front.json").read_text())["members"]]
    assert front(run) == front(finished_run)
