"""A full disk in the middle of a search: one line naming it and the fix, a readable run store,
no temporary files, and a resume that ends with the front of an uninterrupted run.

The store's view of ``os`` is replaced so that its Nth write fails with ENOSPC: the rename that
ends an atomic write, or the ``write`` of an appended record, which first takes half the line,
as a disk that fills up mid-write does.
"""

from __future__ import annotations

import errno
import json
import os

import pytest

import hybridnas.store.run as store_run
from hybridnas.cli.main import main
from hybridnas.results import RunResults
from tests.conftest import TINY


class FullDisk:
    """``os`` for the run store, with the ``n``-th write failing for want of space."""

    def __init__(self, n: int):
        self.n, self.count, self.failed = n, 0, None

    def __getattr__(self, name):
        return getattr(os, name)

    def _full(self, what) -> bool:
        self.count += 1
        if self.count == self.n:
            self.failed = what
            return True
        return False

    def replace(self, src, dst):
        if self._full(("replace", str(dst))):
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.replace(src, dst)

    def write(self, fd, data):
        if self._full(("append", os.readlink(f"/proc/self/fd/{fd}"))):
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def search(out, *extra):
    return main(["search", TINY, "--out", str(out), "--name", "tiny", "--quiet", "--no-export", *extra])


def front(run):
    return [(m["arch_id"], m["val_acc"], m["test_acc"], m["params"], m["flops"])
            for m in json.loads((run / "front.json").read_text())["members"]]


# 1: config.yaml of a new run (nothing to resume); 7: block/warm.pt (block stage);
# 33: an evaluation record (network stage, generation 1: after its first network's weights)
@pytest.mark.parametrize("n, where", [(1, "config.yaml"), (7, "block/warm.pt"), (33, "evaluations.jsonl")])
def test_full_disk_is_one_line_and_the_run_resumes(tmp_path, monkeypatch, capsys, tiny_run, n, where):
    disk = FullDisk(n)
    monkeypatch.setattr(store_run, "os", disk)
    assert search(tmp_path) == 2
    monkeypatch.setattr(store_run, "os", os)
    run = tmp_path / "tiny"
    assert disk.failed[1].endswith(where), disk.failed
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("hybridnas search: error: cannot write") and "no space left on device" in err[0]
    assert "free space" in err[0]
    if where == "config.yaml":  # failed before the run existed: nothing is left, the same command starts it
        assert "run the same command again" in err[0]
        assert not run.exists()
        assert search(tmp_path) == 0
    else:
        assert f"hybridnas search --resume {run}" in err[0]
        left = [p for p in run.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".write-test", ".lock"))]
        assert not left, f"left behind: {left}"
        results = RunResults(run)  # the store stays readable
        assert results.config.name == "tiny"
        done = results.records(status=None, budget="all")
        if disk.failed[0] == "append":  # half a record was written: it is not read as one
            assert not (run / where).read_bytes().endswith(b"\n")
            assert len(done) == (run / where).read_bytes().count(b"\n")
        assert main(["search", "--resume", str(run), "--quiet", "--no-export"]) == 0
        after = results.store.records("evaluations.jsonl")
        assert after[: len(done)] == done, "records written before the failure were lost"
    keys = [(r["arch_id"], r.get("epochs")) for r in RunResults(run).store.records("evaluations.jsonl")]
    assert len(keys) == len(set(keys)), "a candidate was trained twice"
    assert front(run) == front(tiny_run)
