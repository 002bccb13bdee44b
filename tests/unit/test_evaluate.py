"""Evaluators on CPU: failures come back as data, the speed switches, the local pool agreeing
with in-process training, and failures reaching the run store and the summary."""

import dataclasses
import json

import pytest
import torch

from hybridnas.cli.main import main
from hybridnas.device import Accel, candidate_threads, fits_on_device, resolve_precision
from hybridnas.errors import UserError
from hybridnas.evaluate.base import build_evaluator, evaluate_candidate
from hybridnas.evaluate.candidate import failure_kind, is_oom
from hybridnas.training import TrainSettings
from tests.conftest import TINY, metrics, population

# Two epochs at batch 32: enough that the networks learn (accuracies differ between them).
SHORT = ["evaluation.epochs=2", "evaluation.batch_size=32", "threads=1"]


def run(cfg, data, cands):
    with build_evaluator(cfg, data, torch.device("cpu")) as ev:
        return ev.evaluate_batch(cands)


def one(overrides, settings_override=None, **kw):
    cfg, data, cands = population(list(overrides), n=1)
    settings = TrainSettings.from_eval(cfg.evaluation)
    if settings_override:  # values a config refuses (an infinite lr) reach the trainer only this way
        settings = dataclasses.replace(settings, **settings_override)
    return evaluate_candidate(cands[0], data, settings, torch.device("cpu"), **kw)


def test_local_pool_matches_in_process():
    cfg, data, cands = population(SHORT)
    alone = run(cfg, data, cands)
    pooled_cfg, _, _ = population(SHORT + ["evaluation.workers=2"])
    pooled = run(pooled_cfg, data, cands)
    assert metrics(alone) == metrics(pooled)
    assert all(r["status"] == "ok" and r["threads"] == 1 and r["precision"] == "fp32" for r in alone + pooled)
    assert max(r["val_acc"] for r in alone) > 0.3  # they learned: the comparison is not of chance levels


def test_nan_loss_is_a_failed_candidate():
    r = one(["evaluation.max_loss=null"], {"lr": float("inf")})  # infinite steps: NaN weights
    assert r["status"] == "failed" and r["failure"] == "diverged"
    assert r["reason"].startswith("diverged: loss became nan") and "state" not in r


def test_exploding_loss_is_a_failed_candidate():
    r = one(["evaluation.lr=1e6"])  # finite but huge steps; gradient clipping keeps it from NaN
    assert r["failure"] == "diverged" and "epoch 1" in r["reason"]
    assert float(r["reason"].split("loss became ")[1].split()[0]) > 1e3  # the default max_loss


def test_timeout_stops_the_training():
    r = one(["evaluation.epochs=200"], timeout_s=0.2)
    assert r["status"] == "failed" and r["failure"] == "timeout"
    epoch = int(r["reason"].split("in epoch ")[1].split()[0])
    assert epoch < 200 and "after 0.2 s" in r["reason"]


@pytest.fixture
def memory_limit(monkeypatch):
    """Networks that run out of memory above a batch size, as a GPU would (training only)."""
    import hybridnas.space.builder as builder

    real = builder.build_network
    limit = {"batch": 16}

    def build(spec):
        net = real(spec)

        def check(module, args):
            if module.training and args[0].shape[0] > limit["batch"]:
                raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate for batch {args[0].shape[0]}")

        net.register_forward_pre_hook(check)
        return net

    monkeypatch.setattr(builder, "build_network", build)
    return limit


def test_out_of_memory_retries_at_half_the_batch(memory_limit):
    ok = one(["evaluation.batch_size=32"])
    assert ok["status"] == "ok" and ok["batch_size"] == 16 and "retried at 16" in ok["note"]
    assert ok["seconds"] > 0 and "state" in ok
    failed = one(["evaluation.batch_size=64"])
    assert failed["failure"] == "out_of_memory" and "at batch size 64 and 32" in failed["reason"]


def test_a_real_allocation_failure_counts_as_out_of_memory():
    with pytest.raises(RuntimeError) as info:
        torch.empty(2**50, dtype=torch.uint8)
    assert is_oom(info.value)
    assert not is_oom(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_precision_and_threads_rules():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(UserError, match="fp16' needs a CUDA GPU"):
        resolve_precision("fp16", "cpu")
    a = Accel("cpu", "auto")
    assert a.dtype is None and a.scaler is None and not a.channels_last  # None: the old rule, GPU only
    assert Accel("cpu", "auto", TrainSettings(epochs=1).channels_last).channels_last  # the default: on
    assert fits_on_device(10**12, "cpu")
    cfg, _, _ = population(["threads=null"])  # the tiny space pins one thread; unpin it
    assert candidate_threads(cfg, 3) == 1  # one thread per worker unless asked
    assert candidate_threads(population(["threads=null", "deterministic=true"])[0], 3) == 1
    assert candidate_threads(population(["deterministic=true", "threads=2"])[0], 3) == 2
    assert candidate_threads(population(["threads=4"])[0], 2) == 2  # never above the worker's share


def test_bf16_autocast_trains_on_cpu():
    r = one(["evaluation.precision=bf16", "evaluation.epochs=1"])
    assert r["status"] == "ok" and r["precision"] == "bf16" and 0 <= r["val_acc"] <= 1
    assert all(v.dtype == torch.float32 for k, v in r["state"].items() if v.is_floating_point())


def test_failed_candidates_reach_the_store_and_the_summary(tmp_path, capsys):
    # Every network's first loss (~2.3) is above max_loss: all candidates fail, the search ends.
    assert main(["search", TINY, "--out", str(tmp_path), "--name", "f", "--quiet", "--no-export",
                 "--set", "evaluation.max_loss=2.0", "--set", "engine.generations=1"]) == 0
    run = tmp_path / "f"
    records = [json.loads(l) for l in (run / "evaluations.jsonl").read_text().splitlines()]
    assert records and all(r["status"] == "failed" and failure_kind(r) == "diverged" for r in records)
    assert all(r["reason"].startswith("diverged: loss became") for r in records)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["failed"] == len(records) and summary["failures"]["diverged"]["count"] == len(records)
    assert summary["front_size"] == 0
    out = capsys.readouterr().out
    assert f"failed: {len(records)} (diverged {len(records)})" in out and "e.g. stem" in out


def test_missing_ray_names_the_extra(monkeypatch):
    import sys

    from hybridnas.config import load_config

    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(UserError, match=r"pip install 'hybridnas\[ray\]'"):
        load_config(TINY, ["evaluation.evaluator=ray"])
