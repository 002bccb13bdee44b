"""Scriptable output on one tiny run: ``python -m hybridnas search --json`` (stdout is one JSON
object, the usual text on stderr), ``pick``/``export``/``train --json``, ``front.csv`` read by
pandas with no options, and the model card's YAML front matter read back."""

import json
import os
import subprocess
import sys

import pytest

from hybridnas.cli.main import main
from tests.conftest import ROOT, TINY


def hybridnas(*args, cwd=None):
    """``python -m hybridnas ARGS`` in a fresh interpreter, this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hybridnas", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    proc = hybridnas("search", TINY, "--out", out, "--name", "j", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "j", proc


def json_of(capsys, code):
    assert code == 0
    out, err = capsys.readouterr()
    return json.loads(out), err  # exactly one JSON object: json.loads refuses anything more


def test_python_dash_m_runs_the_cli():
    proc = hybridnas("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("hybridnas ")


def test_search_json_is_one_object_on_stdout_and_the_text_on_stderr(searched):
    run, proc = searched
    result = json.loads(proc.stdout)
    assert result["command"] == "search" and result["run"] == str(run)
    assert result["front_size"] == len(result["front"]) > 0
    members = json.loads((run / "front.json").read_text())["members"]
    assert {m["arch_id"] for m in result["front"]} == {m["arch_id"] for m in members}
    assert result["files"]["front.csv"] == str(run / "front.csv")
    assert (run / result["exported"]["path"] / "model.pt").exists()
    assert "blocks in library" in proc.stderr and "blocks in library" not in proc.stdout


def test_front_csv_is_read_by_pandas_with_no_options(searched):
    import pandas as pd

    run, _ = searched
    df = pd.read_csv(run / "front.csv")
    meta = json.loads((run / "front.json").read_text())
    assert list(df.columns) == meta["columns"] and list(df["arch_id"]) == [m["arch_id"] for m in meta["members"]]
    assert df["params"].dtype.kind == "i" and df["val_acc"].between(0, 1).all()
    assert "2 x macs" in meta["convention"] and meta["objectives"] == ["error", "params", "flops"]


def test_pick_json(searched, capsys):
    run, _ = searched
    result, err = json_of(capsys, main(["pick", str(run), "--rule", "max-acc", "-n", "2", "--json"]))
    assert result["picked"] == result["models"][0]["arch_id"] and len(result["models"]) == 2
    picks = json.loads((run / "picks.json").read_text())["picks"]
    assert picks[-1]["arch_ids"] == [result["picked"]] and "picked" in err


def test_export_json_and_the_model_card(searched, capsys):
    import yaml

    run, _ = searched
    aid = json.loads((run / "front.json").read_text())["members"][0]["arch_id"]
    result, err = json_of(capsys, main(["export", str(run), "--id", aid, "--format", "state", "--json"]))
    folder = run / "exports" / aid
    assert result["folder"] == str(folder) and set(result["files"]) == {"arch.json", "card.json", "card.md", "model.pt"}
    assert result["card"]["arch_id"] == aid and "reloaded" in err
    text = (folder / "card.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["library_name"] == "hybridnas" and "image-classification" in meta["tags"]
    assert meta["datasets"] == ["digits"]
    sizes = json.loads((run / "dataset.json").read_text())["sizes"]
    results = {r["dataset"]["split"]: r for r in meta["model-index"][0]["results"]}
    assert results["test"]["dataset"]["args"]["images"] == sizes["test"] == 359
    assert results["val"]["metrics"][0]["value"] == pytest.approx(result["card"]["val_acc"], abs=1e-6)
    hn = meta["hybridnas"]
    assert hn["params"] == result["card"]["params"] and hn["flops"] == 2 * hn["macs"]
    assert hn["class_names"] == [str(i) for i in range(10)] and hn["input_shape"] == [None, 1, 8, 8]
    assert "hybridnas.load('.')" in text
    # no absolute local path anywhere in the card
    card = (folder / "card.json").read_text()
    for where in (str(run.parent), str(ROOT), os.path.expanduser("~")):
        assert where not in text and where not in card
    assert json.loads(card)["weights_from"] == f"weights/{aid}.pt"


def test_train_json(searched, capsys):
    run, _ = searched
    aid = json.loads((run / "front.json").read_text())["members"][0]["arch_id"]
    result, err = json_of(capsys, main(["train", str(run), "--id", aid, "--epochs", "1", "--json"]))
    assert result["command"] == "train" and result["arch_id"] == aid and result["epochs"] == 1
    record = [json.loads(l) for l in (run / "trained.jsonl").read_text().splitlines()][-1]
    assert result["test_acc"] == record["test_acc"] and os.path.exists(result["weights_path"])
    assert "export with" in err
    # the test split is never trained on, and the text says when its accuracy is shown
    assert "359 test images, never trained on and choosing nothing; their accuracy is shown every 10 epochs" in err
