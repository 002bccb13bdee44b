"""The Ray backend on a local CPU cluster: same metrics as in-process training, a killed worker
retried (or recorded as failed once the retries are spent), and a whole search whose front
matches the in-process front.

Every comparison runs both sides with one torch thread per candidate: CPU kernels may sum in a
different order with more threads, and the claim is that the backend changes nothing else.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import torch

from hybridnas.cli.main import main
from hybridnas.evaluate.base import build_evaluator
from hybridnas.evaluate.ray import TASK_NAME
from tests.conftest import ROOT, TINY, metrics, population

pytestmark = pytest.mark.ray

SHORT = ["evaluation.epochs=2", "evaluation.batch_size=32", "threads=1"]
RAY = ["evaluation.evaluator=ray", "evaluation.workers=2", "evaluation.ray.cpus_per_task=1"]


@pytest.fixture(scope="module")
def cluster():
    """One local cluster of 2 CPUs for the module; evaluators use the connected session."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="hnray")  # short: Ray's socket paths have a length limit
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def in_process():
    cfg, data, cands = population(SHORT)
    with build_evaluator(cfg, data, torch.device("cpu")) as ev:
        return metrics(ev.evaluate_batch(cands))


def ray_batch(extra=(), kill=False):
    """Evaluate the population on the cluster; with ``kill``, SIGKILL the first worker seen
    running a candidate. Returns (results, the killed pid)."""
    cfg, data, cands = population(SHORT + RAY + list(extra))
    out = {}
    with build_evaluator(cfg, data, torch.device("cpu")) as ev:
        t = threading.Thread(target=lambda: out.update(results=ev.evaluate_batch(cands)))
        t.start()
        killed = kill_task_worker(t) if kill else None
        t.join(timeout=600)
    assert not t.is_alive()
    return out["results"], killed


def kill_task_worker(thread, limit_s=120):
    title = f"ray::{TASK_NAME}".encode()
    deadline = time.monotonic() + limit_s
    while thread.is_alive() and time.monotonic() < deadline:
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(title):
                        os.kill(pid, signal.SIGKILL)
                        return pid
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
        time.sleep(0.02)
    raise AssertionError("no Ray worker was seen running a candidate")


def test_ray_matches_in_process(cluster, in_process):
    results, _ = ray_batch()
    assert metrics(results) == in_process
    assert all(r["status"] == "ok" and r["threads"] == 1 for r in results)


def test_killed_worker_is_retried(cluster, in_process):
    results, killed = ray_batch(kill=True)
    assert killed is not None
    assert metrics(results) == in_process  # the killed candidate ran again, from scratch


def test_worker_dying_past_the_retries_is_a_failed_candidate(cluster, in_process):
    results, _ = ray_batch(["evaluation.ray.retries=0"], kill=True)
    failed = [r for r in results if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["failure"] == "worker_lost"
    assert failed[0]["reason"].startswith("worker lost: ") and "after 0 retries" in failed[0]["reason"]
    ok = {k: v for k, v in metrics(results).items() if k != failed[0]["arch_id"]}
    assert ok == {k: v for k, v in in_process.items() if k in ok} and len(ok) == len(results) - 1


@pytest.mark.slow  # two whole searches, one starting its own cluster: 24 s on a quiet 2-core machine
def test_search_with_ray_matches_in_process_front(tmp_path):
    """The CLI, in a fresh process, starts its own local cluster (files under the run, when the
    path is short enough) and gives the in-process front."""
    common = ["--quiet", "--no-export", "--set", "threads=1", "--set", "engine.generations=2"]
    assert main(["search", TINY, "--out", str(tmp_path), "--name", "local", *common]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled"}
    cmd = [sys.executable, "-m", "hybridnas.cli.main", "search", TINY, "--out", str(tmp_path), "--name", "ray",
           *common, "--set", "evaluation.evaluator=ray", "--set", "evaluation.workers=2"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]

    def front(name):
        members = json.loads((tmp_path / name / "front.json").read_text())["members"]
        return [(m["arch_id"], m["val_acc"], m["test_acc"], m["params"]) for m in members]

    def evaluated(name):
        lines = (tmp_path / name / "evaluations.jsonl").read_text().splitlines()
        return {r["arch_id"]: (r["val_acc"], r["train_loss"]) for r in map(json.loads, lines)}

    assert front("ray") and front("ray") == front("local")
    assert evaluated("ray") == evaluated("local")
