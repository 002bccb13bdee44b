"""The CLI end to end: --threads on search and train, and accuracies with their standard errors in
front.csv, pick, the front figure and the report (also for runs written before the fields existed)."""

import csv
import json

import pytest
import torch

from hybridnas.cli.main import main
from hybridnas.device import cpu_cores
from tests.conftest import TINY


def cli(*args):
    return main([str(a) for a in args])


def front_rows(run):
    return list(csv.DictReader((run / "front.csv").read_text().splitlines()))


def test_threads_flag_of_search_is_written_into_the_config(tmp_path, capsys):
    import yaml

    assert cli("search", TINY, "--out", tmp_path, "--name", "t", "--threads", "1", "--no-export",
               "--set", "engine.generations=1") == 0
    cfg = yaml.safe_load((tmp_path / "t" / "config.yaml").read_text())
    assert cfg["threads"] == 1 and cfg["block"]["channels_last"] is True and cfg["evaluation"]["channels_last"] is True
    out = capsys.readouterr()
    assert "accuracy noise: validation accuracies on" in out.out and "torch thread(s) each" in out.err
    assert cli("search", "--resume", tmp_path / "t", "--threads", "2") == 2  # a resume keeps the run's config
    assert "--threads cannot change a run being resumed" in capsys.readouterr().err


def test_train_threads_flag(run_copy, capsys):
    assert cli("pick", run_copy) == 0
    aid = capsys.readouterr().out.splitlines()[1].split()[0]
    want = min(2, cpu_cores())
    torch.set_num_threads(1)
    assert cli("train", run_copy, "--id", aid, "--epochs", "1", "--threads", "2", "--quiet") == 0
    [rec] = [json.loads(l) for l in (run_copy / "trained.jsonl").read_text().splitlines()]
    assert rec["threads"] == want  # the training ran with the threads asked for (at most the cores)
    assert torch.get_num_threads() == 1  # and gave the caller's count back


def test_the_api_gives_the_callers_thread_count_back(tmp_path):
    import hybridnas

    torch.set_num_threads(min(2, cpu_cores()))
    before = torch.get_num_threads()
    run = hybridnas.search(TINY, name="t", out=tmp_path,
                           overrides=["engine.generations=1", "threads=1"])
    assert run.config.threads == 1 and torch.get_num_threads() == before


def test_front_pick_plot_and_report_carry_standard_errors(run_copy, capsys):
    from hybridnas.analysis.plots import fig_front
    from hybridnas.analysis.style import THEMES
    from hybridnas.report import write_report
    from hybridnas.results import RunResults

    rows = front_rows(run_copy)
    assert rows and all(0 < float(r["val_acc_se"]) < 0.1 and float(r["test_acc_se"]) > 0 for r in rows)
    assert "within_noise_of" in rows[0]
    notes = json.loads((run_copy / "front.json").read_text())["notes"]
    assert any("standard error of the accuracy" in n for n in notes)
    assert cli("pick", run_copy, "--rule", "max-acc") == 0
    out = capsys.readouterr().out
    assert "val_acc ± se" in out.splitlines()[0] and " ± 0.0" in out.splitlines()[1]

    from matplotlib.container import ErrorbarContainer

    fig = fig_front(RunResults(run_copy), THEMES["light"])
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1 and len(bars[0].lines[2][0].get_segments()) == len(rows)  # one bar per front member
    write_report(RunResults(run_copy))
    md = (run_copy / "report.md").read_text()
    assert "val acc % ± se" in md and "How precise the accuracies are" in md


def test_runs_written_before_standard_errors_get_them_from_the_split_sizes(run_copy):
    from hybridnas.core.uncertainty import standard_error
    from hybridnas.results import RunResults

    path = run_copy / "evaluations.jsonl"
    old = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        old.append(json.dumps({k: v for k, v in r.items() if not k.endswith(("_se", "_n"))}))
    path.write_text("\n".join(old) + "\n")
    sizes = json.loads((run_copy / "dataset.json").read_text())["sizes"]
    front = RunResults(run_copy).front()
    assert front and all(r["val_acc_se"] == standard_error(r["val_acc"], sizes["val"]) for r in front)


def test_full_training_accuracies_carry_the_error_of_their_own_split(run_copy):
    """``hybridnas train`` tests on all of the test split, not the search's cap: the report and the
    proxy figure take the full training's standard error from the sizes its record gives."""
    from hybridnas.analysis.plots import fig_proxy
    from hybridnas.analysis.style import THEMES
    from hybridnas.report import _proxy
    from hybridnas.results import RunResults
    from hybridnas.store.layout import TRAINED

    results = RunResults(run_copy)
    [r] = [r for r in results.records() if r.get("val_acc") is not None][:1]
    search_test = results.split_sizes()["test"]
    results.store.append(TRAINED, {
        "arch_id": r["arch_id"], "genome": r["genome"], "params": r["params"], "proxy_val_acc": 0.9,
        "proxy_test_acc": 0.9, "proxy_epochs": 1, "val_acc": None, "test_acc": 0.9, "epochs": 1, "seconds": 1.0,
        "settings": {}, "data": {"sizes": {"train": 60000, "test": 100 * search_test}}})
    [table] = [b for b in _proxy(RunResults(run_copy), {}) if b[0] == "table"]
    row = table[2][0]
    from hybridnas.core.uncertainty import standard_error

    assert row[3] == f"90.00 ± {100 * standard_error(0.9, search_test):.2f}"  # proxy: the search's test split
    assert row[5] == f"90.00 ± {100 * standard_error(0.9, 100 * search_test):.2f}"  # full: its own, 100x larger
    from matplotlib.container import ErrorbarContainer

    fig = fig_proxy(RunResults(run_copy), THEMES["light"])
    [bars] = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    _, _, (xerr, yerr) = bars.lines
    heights = [seg[1][1] - seg[0][1] for seg in yerr.get_segments()]
    assert heights[0] == pytest.approx(2 * 100 * standard_error(0.9, 100 * search_test))
