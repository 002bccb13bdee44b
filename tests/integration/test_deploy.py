"""From a finished run to a deployed model: pick -> export (state, torch.export, ONNX) -> load ->
predict on a real test image; pick rules and limits through the CLI; full training with
resume; the report and its references."""

import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

import hybridnas
from hybridnas.cli.main import main


def cli(*args):
    return main([str(a) for a in args])


def _test_images(run):
    """A few images of the run's test split, preprocessed as the model expects."""
    from hybridnas.data import load_dataset
    from hybridnas.results import RunResults

    cfg = RunResults(run).config
    data = load_dataset(cfg.data, cfg.seed)
    return data.test.x[:5], data.test.y[:5]


# ---------------------------------------------------------------------------------- deploy


def test_pick_export_load_predict_matches_every_format(run_copy, capsys):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    assert cli("pick", run_copy, "--rule", "knee") == 0
    aid = capsys.readouterr().out.splitlines()[1].split()[0]
    assert cli("export", run_copy, "--id", aid, "--format", "state,pt2,onnx") == 0
    folder = run_copy / "exports" / aid
    card = json.loads((folder / "card.json").read_text())
    assert card["onnx"]["opset"] == 18 and "onnxruntime" in card["onnx"]["runtime_check"]
    assert "opset 18" in (folder / "card.md").read_text()

    x, y = _test_images(run_copy)
    model = hybridnas.load(folder)  # no run directory needed
    with torch.no_grad():
        ref = model(x)
    program = torch.export.load(str(folder / "model.pt2")).module()
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        out_pt2 = program(x)
    out_onnx = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0])
    assert ref.shape == (5, 10)
    assert torch.allclose(ref, out_pt2, atol=1e-5)
    assert torch.allclose(ref, out_onnx, atol=1e-5)
    assert torch.equal(ref.argmax(1), out_onnx.argmax(1))
    # one image at a time works too (dynamic batch dimension in both programs)
    one = torch.from_numpy(sess.run(None, {sess.get_inputs()[0].name: x[:1].numpy()})[0])
    assert torch.allclose(one, ref[:1], atol=1e-5)
    assert torch.allclose(program(x[:1]), ref[:1], atol=1e-5)


def test_onnx_without_the_extra_is_one_line_naming_it(run_copy, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if the package were not installed
    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    assert cli("export", run_copy, "--id", aid, "--format", "state,onnx") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'hybridnas[onnx]'" in err
    assert not (run_copy / "exports" / aid).exists(), "a refused export must write nothing"


def test_pick_rules_through_the_cli(run_copy, capsys):
    front = json.loads((run_copy / "front.json").read_text())["members"]
    # asf with an aspiration only the most accurate model reaches picks it
    best = max(front, key=lambda r: (r["val_acc"], -r["params"]))
    assert cli("pick", run_copy, "--prefer", f"acc={best['val_acc']:.6f}") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[0] in {r["arch_id"] for r in front if r["val_acc"] == best["val_acc"]}
    # pseudo-weights all on params -> the model whose pseudo-weight vector (Deb: (max - f) / (max - min)
    # per objective, error linear and costs log10, normalised to sum 1) is nearest (0, 1, 0); the
    # smallest model only when it is not also the most accurate or the cheapest in FLOPs
    assert cli("pick", run_copy, "--weights", "params=1", "-n", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    F = np.array([[1 - r["val_acc"], np.log10(r["params"]), np.log10(r["flops"])] for r in front])
    pw = (F.max(0) - F) / (F.max(0) - F.min(0))
    pw = pw / pw.sum(1, keepdims=True)
    dist = np.abs(pw - [0, 1, 0]).sum(1)
    assert lines[1].split()[0] in {r["arch_id"] for r, d in zip(front, dist) if d == pytest.approx(dist.min())}
    assert cli("pick", run_copy, "--rule", "high-tradeoff", "-n", "3") == 0
    picks = json.loads((run_copy / "picks.json").read_text())["picks"]
    assert [p["rule"] for p in picks] == ["asf", "pseudo-weights", "high-tradeoff"]
    assert picks[0]["prefer"] == {"acc": pytest.approx(best["val_acc"], abs=1e-6)}
    # -n K lists K models but records one pick: the first; the others are kept as listed
    assert [len(p["arch_ids"]) for p in picks] == [1, 1, 1]
    assert len(picks[1]["listed"]) == 2 and len(picks[2]["listed"]) == 3
    assert picks[2]["listed"][0] == picks[2]["arch_ids"][0]
    # the same pick again is one entry, moved last - also with another -n (it picks the same model)
    assert cli("pick", run_copy, "--weights", "params=1", "-n", "2") == 0
    assert cli("pick", run_copy, "--weights", "params=1", "-n", "1") == 0
    again = json.loads((run_copy / "picks.json").read_text())["picks"]
    assert [p["rule"] for p in again] == ["asf", "high-tradeoff", "pseudo-weights"]
    assert "listed" not in again[-1] and again[-1]["arch_ids"] == picks[1]["arch_ids"]


def test_limits_no_model_meets_exit_2_naming_the_nearest(run_copy, capsys):
    front = json.loads((run_copy / "front.json").read_text())["members"]
    assert cli("pick", run_copy, "--max-flops", "1000", "--min-acc", "0.999") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no model on the front meets max_flops=1000, min_acc=0.999" in err and "misses by" in err
    assert any(r["arch_id"] in err for r in front)
    assert not (run_copy / "picks.json").exists() or "max_flops" not in (run_copy / "picks.json").read_text()


def test_latency_limit_without_latency_is_a_clear_error(run_copy, capsys):
    assert cli("pick", run_copy, "--max-latency", "5") == 2
    err = capsys.readouterr().err
    assert "needs measured latency" in err and "objectives" in err


# ---------------------------------------------------------------------------------- train


def _train(run, aid, **kw):
    from hybridnas.retrain import train_model

    return train_model(run, aid, {"epochs": 3, "cutout": 2, "drop_path": 0.2, "aux_weight": 0.4, **kw})


class Killed(Exception):
    pass


def test_full_training_resumes_exactly_and_export_drops_the_aux_head(run_copy, tmp_path):
    from hybridnas.results import RunResults
    from hybridnas.retrain import train_model
    from hybridnas.space.costs import network_cost

    other = tmp_path / "other"
    shutil.copytree(run_copy, other)
    aid = json.loads((run_copy / "front.json").read_text())["members"][-1]["arch_id"]
    straight = _train(run_copy, aid)

    def kill_after_first_epoch(epoch, metrics):
        if epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        train_model(other, aid, {"epochs": 3, "cutout": 2, "drop_path": 0.2, "aux_weight": 0.4},
                    on_epoch=kill_after_first_epoch)
    assert (other / "trained" / aid / "ckpt.pt").exists() and not (other / "trained" / aid / "model.pt").exists()
    resumed = _train(other, aid)
    assert resumed["resumed_at"] == 1
    a = torch.load(run_copy / "trained" / aid / "model.pt", weights_only=True)
    b = torch.load(other / "trained" / aid / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (resumed["val_acc"], resumed["test_acc"]) == (straight["val_acc"], straight["test_acc"])

    # the record sits next to the proxy accuracy; the checkpoint is gone once finished
    rec = RunResults(run_copy).trained()[aid]
    proxy = RunResults(run_copy).record(aid)
    assert rec["proxy_val_acc"] == proxy["val_acc"] and rec["epochs"] == 3
    assert not (run_copy / "trained" / aid / "ckpt.pt").exists()
    assert not any(k.startswith("aux_head.") for k in a)

    # export prefers the trained weights; the exported network is exactly the analytic one
    folder = hybridnas.Run.load(run_copy).export(aid)
    card = json.loads((folder / "card.json").read_text())
    assert "trained" in card["weights_from"] and card["test_acc"] == rec["test_acc"]
    assert card["proxy_val_acc"] == proxy["val_acc"]
    model = hybridnas.load(folder)
    spec = RunResults(run_copy).spec(proxy)
    assert card["params"] == network_cost(spec).params == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        assert torch.equal(model(torch.zeros(1, 1, 8, 8)).argmax(1), model(torch.zeros(1, 1, 8, 8)).argmax(1))


def test_training_again_with_other_settings_is_refused_until_restart(run_copy, capsys):
    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--quiet") == 0
    assert "full  (1 epochs on train+val: " in capsys.readouterr().out
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--quiet") == 0  # done: nothing retrained
    assert len((run_copy / "trained.jsonl").read_text().splitlines()) == 1
    assert cli("train", run_copy, "--id", aid, "--epochs", "2", "--quiet") == 2
    err = capsys.readouterr().err
    assert "epochs 1 -> 2" in err and "--restart" in err
    assert cli("train", run_copy, "--id", aid, "--epochs", "2", "--restart", "--quiet") == 0
    assert cli("train", run_copy, "--id", aid, "--drop-path", "1.5", "--quiet") == 2
    assert "drop_path" in capsys.readouterr().err


def test_full_training_trains_on_all_the_data_by_default_and_says_so(run_copy, capsys):
    """The search's caps (tiny.yaml: 300 training images) do not apply; training and validation
    splits are trained on together; the test split is the search's, untouched."""
    from hybridnas.data import load_dataset
    from hybridnas.results import RunResults

    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--quiet") == 0
    out = capsys.readouterr().out
    rec = RunResults(run_copy).trained()[aid]
    cfg = RunResults(run_copy).config
    searched = load_dataset(cfg.data, cfg.seed)
    assert len(searched.train) == 300
    assert rec["data"]["splits"] == "train+val" and rec["val_acc"] is None
    assert rec["data"]["sizes"] == {"train": 1797 - len(searched.test), "val": 0, "test": len(searched.test)}
    assert "on train+val: 1,438 images at 8x8): test" in out and "val " not in out.split("full")[1]
    history = [json.loads(line) for line in (run_copy / "trained" / aid / "history.jsonl").read_text().splitlines()]
    assert "test_acc" in history[-1] and "val_acc" not in history[-1]  # logged, never used to choose
    # the training split alone, with validation logged; a change of data is a change of settings
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--no-include-val", "--quiet") == 2
    assert "--restart" in capsys.readouterr().err
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--no-include-val", "--set", "data.subset=200",
               "--restart", "--quiet") == 0
    rec = RunResults(run_copy).trained()[aid]
    assert (rec["data"]["splits"] == "train" and abs(rec["data"]["sizes"]["train"] - 200) <= 5
            and rec["val_acc"] is not None)
    assert rec["data"]["sizes"]["val"] == len(searched.val)
    # --set takes data.* and train.* only, typed like the space file
    assert cli("train", run_copy, "--id", aid, "--set", "engine.generations=2") == 2
    assert "train takes data.KEY" in capsys.readouterr().err
    assert cli("train", run_copy, "--id", aid, "--set", "train.epochs=abc") == 2
    assert "'train.epochs' must be an integer" in capsys.readouterr().err
    assert cli("train", run_copy, "--id", aid, "--set", "data.subsett=5") == 2
    assert "did you mean 'subset'" in capsys.readouterr().err


def test_training_at_another_resolution_exports_a_model_for_it(run_copy, capsys):
    """Cells and head do not depend on the resolution: a model searched at 8x8 trains at 16x16,
    its FLOPs are given at both, and the export takes 16x16 images."""
    from hybridnas.results import RunResults
    from hybridnas.space.costs import measured_cost

    aid = json.loads((run_copy / "front.json").read_text())["members"][-1]["arch_id"]
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--set", "data.image_size=16", "--quiet") == 0
    out = capsys.readouterr().out
    rec = RunResults(run_copy).trained()[aid]
    proxy = RunResults(run_copy).record(aid)
    assert rec["image_size"] == [16, 16] and rec["search_image_size"] == [8, 8]
    assert rec["search_flops"] == proxy["flops"] and rec["flops"] > proxy["flops"] and rec["params"] == proxy["params"]
    assert f"FLOPs {rec['flops']:,} at 16x16 (the search's {proxy['flops']:,} were at 8x8)" in out
    folder = hybridnas.Run.load(run_copy).export(aid)
    card = json.loads((folder / "card.json").read_text())
    assert card["input_shape"] == [None, 1, 16, 16] and card["flops"] == rec["flops"]
    assert card["dataset"]["image_size"] == [16, 16] and "on train+val" in card["accuracy_note"]
    assert "per 16x16 image" in (folder / "card.md").read_text() and "test accuracy" in (folder / "card.md").read_text()
    model = hybridnas.load(folder)
    assert measured_cost(model, (1, 16, 16)).flops == rec["flops"]
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    # the search's record and its cost model are unchanged: the front still compares 8x8 costs
    assert RunResults(run_copy).spec(proxy).image_size == (8, 8)


# ---------------------------------------------------------------------------------- report


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href"):
                self.refs.append(v)


def test_report_html_parses_and_every_reference_resolves(run_copy):
    from hybridnas.retrain import train_model

    run = hybridnas.Run.load(run_copy)
    [p] = run.pick(rule="max-acc")
    run.export(p["arch_id"])
    train_model(run_copy, p["arch_id"], {"epochs": 1})
    # a figure another tool left under plots/block_* is included
    shutil.copy(run_copy / "plots" / "front.png", run_copy / "plots" / "block_0_alpha.png")
    md, page, front = run.report()
    assert md == run_copy / "report.md" and page == run_copy / "report.html" and front == run_copy / "front.html"

    parser = _Refs()
    parser.feed(page.read_text())
    parser.close()
    assert parser.tags.count("img") >= 6 and "table" in parser.tags
    for ref in parser.refs:
        assert not ref.startswith(("http:", "https:", "/")), ref  # self-contained: relative paths only
        assert (page.parent / ref).is_file(), ref
    for name in ("front", "front3d", "parallel", "hypervolume", "proxy", "cells/block_0", "block_0_alpha"):
        assert f"plots/{name}.png" in parser.refs, name
    text = md.read_text()
    for section in ("## Summary", "## The Pareto front", "## Picks", "## Proxy against full training",
                    "## Block library", "## Exports", "## Configuration"):
        assert section in text
    assert p["arch_id"] in text and "max-acc" in text
    import re

    for ref in re.findall(r"\]\(([^)]+)\)", text):
        assert (md.parent / ref).is_file(), ref


def test_figures_in_both_themes_and_formats(run_copy):
    import xml.etree.ElementTree as ET

    from hybridnas.analysis.plots import plot_all

    files = plot_all(run_copy, ("png", "svg"), theme="dark")
    names = {str(Path(f).relative_to(run_copy / "plots")) for f in files}
    assert {"front.png", "front.svg", "front3d.svg", "parallel.svg", "hypervolume.svg", "cells/block_0.svg"} <= names
    assert "proxy.png" not in names  # nothing trained fully yet
    svg = ET.parse(run_copy / "plots" / "front.svg").getroot()
    assert svg.tag.endswith("svg")
    text = (run_copy / "plots" / "front.svg").read_text()
    assert "parameters (count, log scale)" in text and "FLOPs per image" in text  # labelled axes, units
    assert cli("plot", run_copy, "--figure", "proxy") == 2


def test_export_never_replaces_a_foreign_folder(run_copy, tmp_path, capsys):
    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    mine = tmp_path / "my-models"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert cli("export", run_copy, "--id", aid, "--out", mine) == 2
    assert "not a hybridnas export" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"
    out = tmp_path / "export"
    assert cli("export", run_copy, "--id", aid, "--out", out) == 0
    assert cli("export", run_copy, "--id", aid, "--out", out, "--format", "state") == 0  # an export replaces an export
    assert sorted(p.name for p in out.iterdir()) == ["arch.json", "card.json", "card.md", "model.pt"]


def test_a_killed_export_leaves_the_previous_one_and_its_staging_folder_goes_next_time(run_copy):
    import os
    import signal
    import subprocess

    from tests.conftest import ROOT

    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    assert cli("export", run_copy, "--id", aid, "--format", "state") == 0
    folder = run_copy / "exports" / aid
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # a real export, SIGKILLed once its new folder is assembled but before it is moved into place
    code = (
        "import sys, time\n"
        "import hybridnas.export as ex\n"
        "def stuck(stage, folder):\n"
        "    print('assembled', flush=True); time.sleep(60)\n"
        "ex._swap_in = stuck\n"
        f"ex.export_model({str(run_copy)!r}, {aid!r}, formats=('state', 'pt2'))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "assembled"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    staged = [p for p in folder.parent.iterdir() if p.name.startswith(f".{aid}.")]
    assert len(staged) == 1 and (staged[0] / "model.pt2").exists(), staged
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "the previous export was touched"
    assert hybridnas.load(folder) is not None

    assert cli("export", run_copy, "--id", aid) == 0
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == [], "staging left behind"
    assert (folder / "model.pt2").exists()


def test_disk_full_inside_torch_export_save_is_one_line_and_keeps_the_previous_export(run_copy, capsys, monkeypatch):
    import errno

    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    assert cli("export", run_copy, "--id", aid, "--format", "state") == 0
    folder = run_copy / "exports" / aid
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    capsys.readouterr()

    def full(program, f, *a, **k):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 half a program")  # what a full disk leaves: part of the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch.export, "save", full)
    assert cli("export", run_copy, "--id", aid) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left on device" in err[0] and "Traceback" not in err[0], err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "the previous export was touched"
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == [], "staging left behind"


# ---------------------------------------------------------------------------------- plot flags


def test_figure_and_format_lists_are_checked_before_any_figure_is_drawn(run_copy, capsys):
    plots = run_copy / "plots"
    shutil.rmtree(plots)
    capsys.readouterr()
    for flags, says in ((["--format", ""], "no plot format given"),
                        (["--format", " , "], "no plot format given"),
                        (["--figure", ""], "no figure given"),
                        (["--figure", "front,proxy"], "was trained fully")):  # nothing trained fully
        assert cli("plot", run_copy, *flags) == 2, flags
        err = capsys.readouterr().err
        assert err.startswith("hybridnas plot: error: ") and says in err and len(err.strip().splitlines()) == 1, err
        assert not plots.exists() or not any(plots.rglob("*.*")), flags  # nothing half drawn
    # repeats are drawn once, in the order first named
    assert cli("plot", run_copy, "--figure", "front,cells,front", "--format", "svg,png,svg") == 0
    out = capsys.readouterr().out.split()
    n = len(json.loads((run_copy / "blocks.json").read_text())["blocks"])
    assert out == [str(plots / "front.svg"), str(plots / "front.png")] + [
        str(plots / "cells" / f"block_{i}.{fmt}") for i in range(n) for fmt in ("svg", "png")]
    # without an alpha log, asking for 'alpha' is an error rather than silently nothing
    (run_copy / "block" / "alpha.jsonl").unlink()
    assert cli("plot", run_copy, "--figure", "hypervolume,alpha") == 2
    assert "no op probabilities" in capsys.readouterr().err
    assert not (plots / "hypervolume.png").exists()


def test_figure_help_lists_every_figure(capsys):
    from hybridnas.analysis.plots import FIGURES

    with pytest.raises(SystemExit):
        cli("plot", "--help")
    text = " ".join(capsys.readouterr().out.split())
    listed = text.split("subset of: ", 1)[1].split(" (", 1)[0]
    assert listed.split(", ") == list(FIGURES) and "alpha" in FIGURES


# ---------------------------------------------------------------------------------- pick inputs


def _cli_error(capsys, *args):
    """``hybridnas ARGS`` that must fail: its single stderr line (argparse exits by itself)."""
    capsys.readouterr()
    try:
        rc = cli(*args)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0], (rc, err)
    return err[0]


@pytest.mark.parametrize("args,msg", [
    (["--min-acc", "98"], "hybridnas pick: error: --min-acc 98 must be a fraction in [0, 1]; give e.g. 0.98"),
    (["--min-acc", "1.5"], "--min-acc 1.5 must be a fraction in [0, 1]; give e.g. 0.98"),
    (["--max-flops", "nan"], "'nan' must be a finite number > 0; give e.g."),
    (["--max-params", "inf"], "'inf' must be a finite number > 0; give e.g."),
    (["--min-acc", "nan"], "'nan' must be a finite number > 0"),
    (["--max-latency=-inf"], "'-inf' must be a finite number > 0"),
    (["--prefer", "acc=nan"], "--prefer acc=nan must be a finite number >= 0; write e.g."),
    (["--prefer", "acc=0.98,acc=0.5"], "--prefer names acc twice; give each objective once"),
    (["--weights", "params=1,params=2"], "--weights names params twice; give each objective once"),
    (["--weights", "acc=0,params=0"], "--weights are all zero; give at least one a weight > 0"),
    (["--weights", "acc=-1,params=1"], "--weights acc=-1 must be a finite number >= 0; write e.g."),
    (["--weights", "flops=inf"], "must be a finite number >= 0"),
    (["-n", "0"], "-n must be at least 1, got 0; give the number of models to pick"),
])
def test_pick_refuses_bad_inputs_in_one_line_with_the_fix(run_copy, capsys, args, msg):
    assert msg in _cli_error(capsys, "pick", run_copy, *args)
    assert not (run_copy / "picks.json").exists()


def test_pick_weights_scale_does_not_matter(run_copy, capsys):
    assert cli("pick", run_copy, "--weights", "flops=1,params=1", "-n", "3") == 0
    assert cli("pick", run_copy, "--weights", "flops=1e308,params=1e308", "-n", "3") == 0
    picks = json.loads((run_copy / "picks.json").read_text())["picks"]
    assert picks[0]["arch_ids"] == picks[1]["arch_ids"]


def test_pick_api_checks_dicts_and_limits_as_the_cli_does(run_copy):
    from hybridnas.errors import UserError

    run = hybridnas.Run.load(run_copy)
    for kw, msg in (({"weights": {"acc": 0, "params": 0}}, "all zero"),
                    ({"prefer": {"acc": 98}}, "fraction"),
                    ({"prefer": {"flops": float("nan")}}, "finite"),
                    ({"min_acc": 98}, "fraction"),
                    ({"max_flops": float("nan")}, "finite"),
                    ({"max_params": -5}, ">= 0")):
        with pytest.raises(UserError, match=msg):
            run.pick(**kw)
    assert not (run_copy / "picks.json").exists()


def test_an_opset_the_exporter_cannot_write_is_refused_before_anything_is_written(run_copy, capsys):
    pytest.importorskip("onnxscript")
    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    for opset in ("0", "17", "999"):
        assert cli("export", run_copy, "--id", aid, "--format", "onnx", "--opset", opset) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"--opset {opset} is not one this exporter writes" in lines[0], lines
    assert not (run_copy / "exports").exists()


def test_api_export_takes_formats_as_a_comma_separated_string_too(run_copy):
    aid = json.loads((run_copy / "front.json").read_text())["members"][0]["arch_id"]
    folder = hybridnas.Run.load(run_copy).export(aid, formats="state,pt2")
    assert (folder / "model.pt").exists() and (folder / "model.pt2").exists()


def test_report_of_a_run_stopped_before_its_summary(run_copy):
    (run_copy / "summary.json").unlink()  # a search killed in its network stage writes none
    assert cli("report", run_copy) == 0
    assert "wall time" not in (run_copy / "report.md").read_text()
