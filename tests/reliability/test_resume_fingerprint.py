"""A resume checks that the run is still the run it was, and a run that lost records says so.

One finished tiny search on an ``.npz`` copy of the digits (8x8) is shared by the module; each
test changes a private copy of it:

* its config (swapped for a table space's; widths and stem edited; the seed edited) or its data
  (the ``.npz`` replaced by 16x16 images): ``search --resume`` refuses with exit 2 and one line
  naming what changed, and writes nothing;
* the data moved (same arrays, new ``data.path``) with an older torch in the fingerprint: resumes,
  with a warning line, and trains nothing;
* a run made before fingerprints: resumes with a note and gets one;
* ``evaluations.jsonl`` cut in half: ``pick`` says how many records were lost, the resume says
  it trains them again and does, and trains nothing else;
* ``pick`` while a search holds the run's lock is refused; ``--resume`` of a file says it is one.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from hybridnas.cli.main import main
from tests.conftest import ROOT, TINY
from tests.reliability.test_bad_input import cli, snapshot
from tests.reliability.test_fault_injection import CMD, ENV, _finish

SETTINGS = ["--set", "engine.generations=2", "--set", "engine.pop_size=4", "--set", "deterministic=true"]
FLAGS = ["--quiet", "--no-export"]


def _digits_npz(path: Path, size: int = 8) -> Path:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)
    if size != 8:
        x = np.kron(x, np.ones((size // 8, size // 8), np.float32))  # each pixel a size/8 square
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, y=d.target)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fingerprint")
    npz = _digits_npz(base / "data" / "digits.npz")
    space = base / "space.yaml"
    space.write_text(f"extends: {TINY}\ndata:\n  dataset: npz\n  path: {npz}\n")
    assert main(["search", str(space), "--out", str(base), "--name", "r", *SETTINGS, *FLAGS]) == 0
    return base / "r"


@pytest.fixture
def run(finished, tmp_path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(finished, dst)
    return dst


def _edit_config(run: Path, **changes) -> None:
    """Set dotted keys of the run's config.yaml."""
    p = run / "config.yaml"
    data = yaml.safe_load(p.read_text())
    for key, value in changes.items():
        *parents, last = key.split(".")
        node = data
        for k in parents:
            node = node[k]
        node[last] = value
    p.write_text(yaml.safe_dump(data, sort_keys=False))


def _table_config(run: Path) -> None:
    from hybridnas.config import dump_yaml, load_config

    (run / "config.yaml").write_text(dump_yaml(load_config(str(ROOT / "spaces" / "digits_table.yaml"))))


def _16x16_data(run: Path) -> None:
    _edit_config(run, **{"data.path": str(_digits_npz(run.parent / "data16" / "digits.npz", size=16))})


CHANGED = {
    "config-swapped-for-a-table-space": (_table_config, "config.yaml differs from the run's fingerprint in"),
    "widths-and-stem-edited": (lambda r: _edit_config(r, **{"network.widths": [0.25, 1.0], "network.stem": [8, 16]}),
                               "config.yaml's network.stem and network.widths differ from the run's fingerprint"),
    "seed-edited": (lambda r: _edit_config(r, seed=7), "config.yaml's seed differs from the run's fingerprint "
                                                       "(seed: 0 when the run was made, now 7)"),
    "data-replaced-by-16x16-images": (_16x16_data, "differs from the run's fingerprint (images 1x16x16, 10 classes "
                                                   "now, 1x8x8, 10 classes when the run was made)"),
}


@pytest.mark.parametrize("change", list(CHANGED), ids=list(CHANGED))
def test_resume_refuses_a_changed_run_in_one_line_and_writes_nothing(change, run, capsys):
    edit, says = CHANGED[change]
    edit(run)
    before = snapshot(run)
    rc, err = cli(["search", "--resume", run, *FLAGS], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("hybridnas search: error: ") and says in lines[0], lines[0]
    assert "start a new run with --name" in lines[0]
    assert snapshot(run) == before
    assert not (run / ".lock").exists()


def test_moved_data_and_a_newer_torch_resume_with_a_warning_and_train_nothing(run, capsys):
    moved = shutil.copy(yaml.safe_load((run / "config.yaml").read_text())["data"]["path"], run.parent / "moved.npz")
    _edit_config(run, **{"data.path": str(moved)})  # where the data is: not compared, the arrays are
    fp = json.loads((run / "fingerprint.json").read_text())
    fp["versions"]["torch"] = "0.0"
    (run / "fingerprint.json").write_text(json.dumps(fp))
    records = (run / "evaluations.jsonl").read_bytes()
    rc, err = cli(["search", "--resume", run, *FLAGS], capsys)
    assert rc == 0, err
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "torch 0.0 -> " in warnings[0] and "resuming anyway" in warnings[0], err
    assert (run / "evaluations.jsonl").read_bytes() == records, "a resume of an unchanged run trained something"


def test_a_run_made_before_fingerprints_resumes_with_a_note_and_gets_one(run, capsys):
    saved = json.loads((run / "fingerprint.json").read_text())
    (run / "fingerprint.json").unlink()
    rc, err = cli(["search", "--resume", run, *FLAGS], capsys)
    assert rc == 0, err
    notes = [line for line in err.splitlines() if line.startswith("hybridnas search: note: ")]
    assert len(notes) == 1 and "before runs kept a fingerprint.json" in notes[0], err
    written = json.loads((run / "fingerprint.json").read_text())
    assert written["config"] == saved["config"] and written["data"] == saved["data"]
    _edit_config(run, seed=3)  # and from now on it is checked
    rc, err = cli(["search", "--resume", run, *FLAGS], capsys)
    assert rc == 2 and "seed" in err


def _lines(run: Path):
    return (run / "evaluations.jsonl").read_bytes().split(b"\n")


def test_cut_evaluations_are_said_by_pick_and_retrained_by_resume_nothing_else(run, capsys):
    p = run / "evaluations.jsonl"
    whole = [json.loads(line) for line in _lines(run) if line]
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    kept = [json.loads(line) for line in _lines(run)[:-1]]
    lost = {r["arch_id"] for r in whole} - {r["arch_id"] for r in kept}
    cut_line = len(kept) + 1
    assert lost and len(kept) + len(lost) == len(whole)

    says = f"evaluations.jsonl: {len(lost)} of {len(whole)} records lost (line {cut_line} cut)"
    rc, err = cli(["pick", run], capsys)
    assert rc == 0, err
    assert err.strip().splitlines() == [f"hybridnas pick: warning: {says}; pick used the records left: resume the "
                                        f"search (hybridnas search --resume {run}) to train the lost ones again"]
    for cmd in (["plot", run, "--figure", "front"], ["report", run]):
        rc, err = cli(cmd, capsys)
        assert rc == 0 and f"hybridnas {cmd[0]}: warning: {says}" in err, err

    rc, err = cli(["search", "--resume", run, *FLAGS], capsys)
    assert rc == 0, err
    assert f"warning: {says}; this resume trains the {len(lost)} lost networks again" in err
    after = [json.loads(line) for line in _lines(run) if line]
    assert after[: len(kept)] == kept, "a record written before the cut changed"
    retrained = [r["arch_id"] for r in after[len(kept):]]
    assert sorted(retrained) == sorted(lost), "the resume trained something other than the lost networks"
    rc, err = cli(["pick", run], capsys)
    assert rc == 0 and "warning" not in err, err


def test_pick_while_a_search_holds_the_lock_is_refused_and_writes_nothing(run, capsys):
    # a real search on the run: its resume, extended so that it trains for a while
    longer = subprocess.Popen(CMD + ["--resume", str(run), "--set", "engine.generations=6", *FLAGS], env=ENV,
                              cwd=str(run.parent), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and longer.poll() is None:
            try:
                if json.loads((run / ".lock").read_text())["pid"] == longer.pid:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        assert longer.poll() is None, _finish(longer)
        rc, err = cli(["pick", run], capsys)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1, err
        assert f"in use by process {longer.pid}" in lines[0] and lines[0].endswith("then pick again"), lines[0]
        assert not (run / "picks.json").exists()
        assert json.loads((run / ".lock").read_text())["pid"] == longer.pid, "pick touched the search's lock"
    finally:
        longer.send_signal(signal.SIGKILL)
        longer.wait()
        longer.stderr.close()
    rc, err = cli(["pick", run], capsys)  # the holder is gone: its lock is taken over, the pick recorded
    assert rc == 0, err
    assert json.loads((run / "picks.json").read_text())["picks"]
    assert not (run / ".lock").exists()


def test_resume_of_a_file_says_it_is_not_a_run_directory(run, capsys):
    rc, err = cli(["search", "--resume", run / "config.yaml", "--quiet"], capsys)
    assert rc == 2 and err.count("\n") == 1, err
    assert "is a file, not a run directory" in err and "does not exist" not in err
