"""One writer per run, with a real search process: a second search on the run is refused while
the first holds it, and once the first is SIGKILLed its stale lock is taken over by a resume."""

from __future__ import annotations

import json
import os
import signal
import time

from hybridnas.cli.main import main
from hybridnas.store import RunStore
from tests.reliability.test_fault_injection import _finish, search


def test_second_writer_refused_then_stale_lock_of_killed_search_taken_over(tmp_path, capsys):
    run = tmp_path / "r"
    proc = search(tmp_path, "r", resume=False)
    try:
        deadline = time.time() + 300
        # wait until it holds the lock and has started the network stage
        while proc.poll() is None and time.time() < deadline and not (run / "evaluations.jsonl").exists():
            time.sleep(0.01)
        assert proc.poll() is None, _finish(proc)
        lock = json.loads((run / ".lock").read_text())
        assert lock["pid"] == proc.pid

        before = sorted(p.name for p in run.iterdir())
        assert main(["search", "--resume", str(run), "--quiet", "--no-export"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"in use by process {proc.pid}" in err[0], err
        assert json.loads((run / ".lock").read_text())["pid"] == proc.pid, "the holder's lock was touched"
        # a new search under the same name is refused too (the run exists)
        assert main(["search", "tests/spaces/tiny.yaml", "--out", str(tmp_path), "--name", "r", "--quiet"]) == 2
        assert "--resume" in capsys.readouterr().err
        assert set(before) <= {p.name for p in run.iterdir()}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()

    assert json.loads((run / ".lock").read_text())["pid"] == proc.pid  # left behind by the kill
    store = RunStore(run)
    store.lock()  # what a resume does first: the dead holder's lock is taken over
    assert json.loads((run / ".lock").read_text())["pid"] == os.getpid()
    store.unlock()
    assert not (run / ".lock").exists()
    # (every resume of the fault-injection test also starts on the lock of a SIGKILLed search)
