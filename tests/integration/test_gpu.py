"""CUDA paths: mixed precision, channels-last, a real out-of-memory, the pool across GPUs,
deterministic mode and fractional GPU shares on Ray. Skipped without a GPU (marker ``gpu``)."""

import logging
import os
import shutil
import tempfile

import pytest
import torch

from hybridnas.device import Accel, evaluation_devices, fits_on_device, resolve_device, resolve_precision
from hybridnas.evaluate.base import build_evaluator, evaluate_candidate, place_data
from hybridnas.training import TrainSettings
from tests.conftest import metrics, population

pytestmark = pytest.mark.gpu

SHORT = ["evaluation.epochs=3", "evaluation.batch_size=32", "device=cuda"]


def evaluate(overrides, n=4):
    cfg, data, cands = population(SHORT + list(overrides), n=n)
    device = resolve_device(cfg.device)
    with build_evaluator(cfg, data.to(device), device) as ev:
        return ev.evaluate_batch(cands)


def test_auto_precision_and_channels_last_on_gpu():
    cuda = torch.device("cuda")
    a = Accel(cuda, "auto")
    assert a.channels_last and a.precision in ("bf16", "fp16")
    assert (a.scaler is not None) == (a.precision == "fp16")
    results = evaluate([])
    assert all(r["status"] == "ok" and r["device"].startswith("cuda") for r in results)
    assert {r["precision"] for r in results} == {resolve_precision("auto", cuda)}
    assert max(r["val_acc"] for r in results) > 0.3


def test_fp16_with_gradient_scaling_trains():
    results = evaluate(["evaluation.precision=fp16"], n=2)
    assert all(r["status"] == "ok" and r["precision"] == "fp16" for r in results)
    assert max(r["val_acc"] for r in results) > 0.3


def test_real_out_of_memory_is_retried_then_failed():
    cfg, data, cands = population(SHORT, n=1)
    cuda = torch.device("cuda", torch.cuda.current_device())  # the memory cap needs an index
    data = data.to(cuda)
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(1e-6, cuda)  # a few kilobytes: nothing fits
    try:
        r = evaluate_candidate(cands[0], data, TrainSettings.from_eval(cfg.evaluation), cuda)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, cuda)
    assert r["status"] == "failed" and r["failure"] == "out_of_memory"
    assert "at batch size 32 and 16" in r["reason"]


def test_dataset_stays_on_the_gpu_when_it_fits():
    cfg, data, _ = population(SHORT, n=1)
    assert fits_on_device(data.nbytes, "cuda", copies=8)
    assert place_data(data, torch.device("cuda")).train.x.is_cuda


def test_pool_spans_every_gpu_with_several_workers_each():
    results = evaluate(["evaluation.workers=2"], n=2 * 2 * torch.cuda.device_count())
    assert all(r["status"] == "ok" for r in results)
    used = {r["device"] for r in results}
    assert used <= {str(d) for d in evaluation_devices("cuda")} and len(used) >= 1


def test_deterministic_mode_repeats_exactly():
    first = evaluate(["deterministic=true"], n=2)
    second = evaluate(["deterministic=true", "evaluation.workers=2"], n=2)
    assert metrics(first) == metrics(second)


@pytest.mark.ray
def test_ray_fractional_gpu_tasks():
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    tmp = tempfile.mkdtemp(prefix="hnray")
    ray.init(num_cpus=4, num_gpus=1, include_dashboard=False, _temp_dir=tmp, log_to_driver=False,
             logging_level=logging.WARNING)
    try:
        results = evaluate(["evaluation.evaluator=ray", "evaluation.ray.gpus_per_task=0.5",
                            "evaluation.ray.cpus_per_task=1"])
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    assert all(r["status"] == "ok" and r["device"] == "cuda" for r in results)
