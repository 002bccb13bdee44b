"""Fault injection: SIGKILL a search at random moments of both stages, resume it, repeat.

The harness watches the run directory for durable progress (files a stage writes when a step is
done, lines of the JSON-lines logs) and kills the process a seeded-random delay after a seeded-
random milestone, so kills land across the block stage (warm-up, member searches, library) and the
network stage (between and inside evaluations, around generation files), and sometimes during
start-up. After every kill it resumes with ``--resume``; the last resume runs to the end.

What must hold afterwards (CPU, deterministic mode, same seed):

* the front (ids and metrics) and the block library equal those of an uninterrupted run;
* every evaluation record written before a kill is still there, in the same place;
* no (arch id, epochs) is trained twice, and every one the uninterrupted run trained is there;
* the run store holds no torn file, no temporary file and no lock.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.conftest import ROOT, TINY

SETTINGS = ["--set", "deterministic=true"]
CMD = [sys.executable, "-m", "hybridnas.cli.main", "search"]
FLAGS = ["--quiet", "--no-export"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
TIMEOUT_S = 300


def _lines(p: Path) -> List[bytes]:
    """Complete lines of a JSON-lines file (a torn last line does not count)."""
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return []
    return data.split(b"\n")[:-1]


def progress(run: Path) -> int:
    """Durable steps done so far: grows monotonically through a search and never goes back."""
    n = sum((run / f).exists() for f in ("manifest.json", "block/memory.json", "block/warm.pt", "blocks.json",
                                         "hv_reference.json"))
    n += len(_lines(run / "block/alpha.jsonl")) + len(list((run / "block").glob("member_*.json")))
    n += len(_lines(run / "evaluations.jsonl")) + len(list((run / "generations").glob("gen_*.json")))
    return n


def block_steps(run: Path) -> int:
    """The progress value at which a finished run's block stage ended (``blocks.json`` written)."""
    return sum((run / f).exists() for f in ("manifest.json", "block/memory.json", "block/warm.pt", "blocks.json")) + \
        len(_lines(run / "block/alpha.jsonl")) + len(list((run / "block").glob("member_*.json")))


def records(run: Path) -> List[dict]:
    return [json.loads(l) for l in _lines(run / "evaluations.jsonl")]


def search(out: Path, name: str, resume: bool, settings=()) -> subprocess.Popen:
    args = ["--resume", str(out / name)] if resume else [TINY, "--out", str(out), "--name", name, *SETTINGS, *settings]
    return subprocess.Popen(CMD + args + FLAGS, env=ENV, cwd=str(out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen) -> Tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err.decode()


def kill_plan(rng: random.Random, kills: int, block_end: int, total: int) -> List[int]:
    """Milestones to kill after: a third in the block stage (0: during start-up), the rest in
    the network stage; increasing, so every kill comes after new progress."""
    n_block = max(1, kills // 3)
    block = sorted(rng.sample(range(0, block_end), min(n_block, block_end)))
    net = sorted(rng.sample(range(block_end, total), min(kills - len(block), total - block_end)))
    return block + net


def run_with_kills(out: Path, kills: int, seed: int, reference: Dict[str, object]) -> Dict[str, object]:
    """Search, killing it ``kills`` times by the seeded plan (then at the next step done, if the
    plan's milestones were passed before their kill); resume until it finishes."""
    rng = random.Random(seed)
    block_end, total = reference["block_end"], reference["total"]
    plan = kill_plan(rng, kills, block_end, total)
    run = out / "r"
    done: List[dict] = []  # progress and records at each kill
    t0 = time.perf_counter()
    for k in range(kills + 1):
        proc = search(out, "r", resume=k > 0, settings=reference["settings"])
        if k == kills:  # the last resume runs to the end
            rc, err = _finish(proc)
            assert rc == 0, f"final resume failed (rc {rc}): {err}"
            break
        planned = plan[k] if k < len(plan) else 1
        target = max(planned, progress(run) + 1) if k or planned else 0
        start = time.perf_counter()
        # a kill either a random moment after start (target 0: start-up, imports, lock) or a
        # random moment after the target milestone is reached
        delay = rng.uniform(0.3, 3.0) if target == 0 else rng.uniform(0.0, 0.2)
        reached = None
        while proc.poll() is None and time.perf_counter() - start < TIMEOUT_S:
            if reached is None and (target == 0 or progress(run) >= target):
                reached = time.perf_counter()
            if reached is not None and time.perf_counter() - reached >= delay:
                break
            time.sleep(0.005)
        if proc.poll() is not None:  # it finished (or failed) before the kill: no more kills
            rc, err = _finish(proc)
            assert rc == 0, f"run {k} failed (rc {rc}): {err}"
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        at = progress(run)
        lock = json.loads((run / ".lock").read_text()) if (run / ".lock").exists() else None
        done.append({"target": target, "progress": at, "block_stage": at < block_end, "records": records(run),
                     "stale_lock": lock is not None and lock["pid"] == proc.pid})
    return {"kills": done, "seconds": time.perf_counter() - t0, "plan": plan}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``reference(settings)``: one uninterrupted run with the same seed and settings, made once
    per module and settings."""
    made: Dict[tuple, Dict[str, object]] = {}

    def get(settings=()) -> Dict[str, object]:
        key = tuple(settings)
        if key not in made:
            out = tmp_path_factory.mktemp("reference")
            t0 = time.perf_counter()
            rc, err = _finish(search(out, "r", resume=False, settings=key))
            assert rc == 0, err
            run = out / "r"
            made[key] = {"run": run, "block_end": block_steps(run), "total": progress(run), "settings": key,
                         "seconds": time.perf_counter() - t0}
        return made[key]

    return get


def front(run: Path):
    return [(m["arch_id"], m["genome"], m["val_acc"], m["test_acc"], m["params"], m["flops"])
            for m in json.loads((run / "front.json").read_text())["members"]]


def library(run: Path):
    return [b["genotype"] for b in json.loads((run / "blocks.json").read_text())["blocks"]]


def check_against_reference(run: Path, ref: Path, kills: List[dict]) -> None:
    assert front(run) == front(ref), "the front differs from the uninterrupted run's"
    assert library(run) == library(ref), "the block library differs from the uninterrupted run's"
    final = records(run)
    for i, k in enumerate(kills):
        assert final[: len(k["records"])] == k["records"], f"records written before kill {i + 1} were lost or changed"
    keys = [(r["arch_id"], r.get("epochs")) for r in final]
    assert len(keys) == len(set(keys)), "an architecture was trained twice"
    assert sorted(keys) == sorted((r["arch_id"], r.get("epochs")) for r in records(ref))
    assert [json.loads(l) for l in _lines(run / "block/alpha.jsonl")] and \
        [r["genotype"] for r in map(json.loads, _lines(run / "block/alpha.jsonl"))] == \
        [r["genotype"] for r in map(json.loads, _lines(ref / "block/alpha.jsonl"))]
    assert not (run / ".lock").exists()
    left = [p for p in run.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".write-test")]
    assert not left, f"temporary files left behind: {left}"
    for p in run.rglob("*.json"):
        json.loads(p.read_text())  # no torn whole file
    for p in run.rglob("*.jsonl"):
        assert p.read_bytes().endswith(b"\n")


def _report(name: str, result, ref) -> None:
    stages = [("block" if k["block_stage"] else "network") for k in result["kills"]]
    n = len(result["kills"])
    print(f"\n{name}: {n} kills ({stages.count('block')} in the block stage, "
          f"{stages.count('network')} in the network stage) in {result['seconds']:.1f} s against "
          f"{ref['seconds']:.1f} s uninterrupted ({(result['seconds'] - ref['seconds']) / max(n, 1):.1f} s per kill); "
          f"progress at each kill: {[k['progress'] for k in result['kills']]} of {ref['total']}")


@pytest.mark.slow
def test_kills_in_both_stages_lose_nothing(tmp_path, reference):
    ref = reference()
    result = run_with_kills(tmp_path, kills=3, seed=3, reference=ref)
    _report("fault injection", result, ref)
    kills = result["kills"]
    assert len(kills) >= 3
    assert any(k["block_stage"] for k in kills) and any(not k["block_stage"] for k in kills)
    # each kill after start-up left the killed process's lock, which the next resume took over
    assert all(k["stale_lock"] for k in kills if k["progress"] > 0)
    check_against_reference(tmp_path / "r", ref["run"], kills)


# more epochs, generations, a larger population and deeper stages: more steps (about 90) for twenty
# kills to fall between; the tiny space's own steps (about 50) ran out after 17 to 19 kills
LONGER = ("--set", "block.epochs=3", "--set", "engine.generations=8", "--set", "engine.pop_size=10",
          "--set", "network.blocks=[1,3]")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_twenty_kills_lose_nothing(tmp_path, reference, seed):
    ref = reference(LONGER)
    result = run_with_kills(tmp_path, kills=20, seed=seed, reference=ref)
    _report("fault injection (slow)", result, ref)
    kills = result["kills"]
    assert len(kills) >= 20
    assert sum(k["block_stage"] for k in kills) >= 3 and sum(not k["block_stage"] for k in kills) >= 10
    assert all(k["stale_lock"] for k in kills if k["progress"] > 0)
    check_against_reference(tmp_path / "r", ref["run"], kills)
