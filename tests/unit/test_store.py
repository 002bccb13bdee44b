import json
import os
import subprocess
import sys

import pytest

from hybridnas.errors import UserError
from hybridnas.store import RunStore, WriteFailed, atomic_write


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "f.json"
    atomic_write(p, b"one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"
    assert [f.name for f in p.parent.iterdir()] == ["f.json"]  # no temp files left


def test_atomic_write_gives_the_mode_of_an_ordinary_new_file(tmp_path):
    # in a process with umask 022, as a user's shell has: 0644 like open(), not mkstemp's 0600
    code = (
        "import os, sys; os.umask(0o022)\n"
        "from hybridnas.store import atomic_write\n"
        "atomic_write(sys.argv[1], b'{}')\n"
        "print(oct(os.stat(sys.argv[1]).st_mode & 0o777))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.json")], capture_output=True, text=True)
    assert out.stdout.strip() == "0o644", out


def test_failed_write_leaves_old_file(tmp_path, monkeypatch):
    p = tmp_path / "f.txt"
    atomic_write(p, b"old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(WriteFailed, match="no space left on device"):
        atomic_write(p, b"new")
    assert p.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["f.txt"]


def test_records_append_and_truncated_tail_is_dropped(tmp_path):
    s = RunStore(tmp_path)
    s.append("r.jsonl", {"a": 1})
    s.append("r.jsonl", {"a": 2})
    with open(tmp_path / "r.jsonl", "ab") as f:
        f.write(b'{"a": 3, "b"')  # a kill in the middle of a write
    assert [r["a"] for r in s.records("r.jsonl")] == [1, 2]
    assert s.cut == {"r.jsonl": 3}  # the number of the line cut short, for readers to say so
    assert s.repair("r.jsonl") > 0
    s.append("r.jsonl", {"a": 4})
    assert [r["a"] for r in s.records("r.jsonl")] == [1, 2, 4]
    assert s.cut == {}


def test_corrupted_middle_line_is_a_clear_error(tmp_path):
    (tmp_path / "r.jsonl").write_text('{"a": 1}\ngarbage\n{"a": 2}\n')
    with pytest.raises(UserError, match="corrupted at line 2"):
        RunStore(tmp_path).records("r.jsonl")


def test_lock_refuses_second_writer_and_takes_over_stale(tmp_path):
    s = RunStore(tmp_path)
    s.lock()
    # another live process holding the lock
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename, "started": 0}))
        with pytest.raises(UserError, match="in use by process"):
            RunStore(tmp_path).lock()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale and is taken over
    t = RunStore(tmp_path)
    t.lock()
    assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    t.unlock()
    assert not (tmp_path / ".lock").exists()


def test_holding_locks_for_its_writes_or_refuses_while_another_process_holds_the_run(tmp_path):
    s = RunStore(tmp_path)
    with s.holding(then="pick again"):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()
    s.lock()  # a search holding its run writes its own picks: no second lock, and its lock stays
    with s.holding(then="pick again"):
        pass
    assert (tmp_path / ".lock").exists()
    s.unlock()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename, "started": 0}))
        with pytest.raises(UserError, match=f"in use by process {holder.pid} .* then pick again$"):
            with RunStore(tmp_path).holding(then="pick again"):
                raise AssertionError("a write under another process's lock")
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_fingerprint_compares_what_changes_results_and_ignores_the_rest():
    from hybridnas.config import load_config
    from hybridnas.pipeline import EXTENSIBLE
    from hybridnas.store.fingerprint import UNCOMPARED, config_changes, config_part
    from tests.conftest import TINY

    assert set(EXTENSIBLE) <= set(UNCOMPARED)
    base = config_part(load_config(TINY))
    same = config_part(load_config(TINY, ["engine.generations=9", "evaluation.workers=2", "name=other", "threads=2",
                                          "device=cpu", "train.epochs=3"]))
    assert config_changes(base, same, new_keys_ok=False) == []
    edited = config_part(load_config(TINY, ["seed=3", "evaluation.lr=0.1"]))
    assert config_changes(base, edited, new_keys_ok=False) == [("evaluation.lr", 0.05, 0.1), ("seed", 0, 3)]
    # a key the fingerprint lacks is one a later hybridnas added (with the old behaviour as its default)
    older = {k: v for k, v in base.items() if k != "evaluation.folds"}
    assert config_changes(older, base, new_keys_ok=True) == []
    assert [k for k, _, _ in config_changes(older, base, new_keys_ok=False)] == ["evaluation.folds"]


def test_raw_data_digest_follows_values_dtype_and_shape():
    import numpy as np

    from hybridnas.data.raw import RawData

    x, y = np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.array([0, 1])
    d = RawData("a", x, y).digest()
    assert d == RawData("b", np.asfortranarray(x), y.copy()).digest()  # neither the name nor the memory layout
    assert d["arrays"] == {"x": {"shape": [2, 3, 4], "dtype": "float32"}, "y": {"shape": [2], "dtype": "int64"}}
    for other in (RawData("a", x + 1, y), RawData("a", x.astype(np.float64), y), RawData("a", x.reshape(2, 4, 3), y),
                  RawData("a", x, y, x_test=x, y_test=y), RawData("a", x, y[::-1])):
        assert other.digest()["sha256"] != d["sha256"]


def _killed_mid_write(target):
    """A real writer SIGKILLed between writing its temporary file and renaming it into place."""
    code = (
        "import os, sys, time\n"
        "from hybridnas.store import atomic_write\n"
        "def stuck(*a):\n"
        "    print('written', flush=True); time.sleep(60)\n"
        "os.replace = stuck\n"
        f"atomic_write({str(target)!r}, b'x' * 1000)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_taking_the_lock_sweeps_temporaries_of_killed_writers(tmp_path):
    _killed_mid_write(tmp_path / "weights" / "abc.pt")
    _killed_mid_write(tmp_path / "evaluations.json")
    (tmp_path / "weights" / "keep.pt").write_bytes(b"kept")
    # another writer's folder (a model being trained holds its own lock) and a staging folder
    _killed_mid_write(tmp_path / "trained" / "m1" / "metrics.json")
    (tmp_path / "trained" / "m1" / ".lock").write_text("{}")
    _killed_mid_write(tmp_path / "exports" / ".m2.k3j4h5g6.tmp" / "arch.json")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f".write-test-{live.pid}").write_bytes(b"")
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        (tmp_path / f".write-test-{dead.pid}").write_bytes(b"")
        left = lambda: sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
        before = left()
        assert sum(n.endswith(".tmp") for n in before) == 4, before

        s = RunStore(tmp_path)
        s.lock()
        after = left()
        gone = sorted(set(before) - set(after))
        assert len(gone) == 3, gone
        assert f".write-test-{dead.pid}" in gone, gone
        assert sorted(g.split(".")[1] for g in gone if g.endswith(".tmp")) == ["abc", "evaluations"], gone
        assert f".write-test-{live.pid}" in after and "weights/keep.pt" in after
        assert any(a.startswith("trained/m1/.metrics.json.") for a in after), "another writer's folder was entered"
        assert any(a.startswith("exports/.m2.") for a in after), "a staging folder was entered"
        s.unlock()
    finally:
        live.kill()
        live.wait()


def test_open_existing_checks(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        RunStore.open_existing(tmp_path / "nope")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="is a file, not a run directory"):
        RunStore.open_existing(tmp_path / "a-file")
    (tmp_path / "a-file").unlink()
    with pytest.raises(UserError, match="not a hybridnas run"):
        RunStore.open_existing(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99, "hybridnas": "9.0"}))
    with pytest.raises(UserError, match="run format 99"):
        RunStore.open_existing(tmp_path)


def test_tensors_round_trip_with_weights_only(tmp_path):
    import torch

    s = RunStore(tmp_path)
    s.save_tensors("w.pt", {"a": torch.arange(3)})
    assert torch.equal(s.load_tensors("w.pt")["a"], torch.arange(3))
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="corrupted"):
        s.load_tensors("bad.pt")
