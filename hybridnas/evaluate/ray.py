"""Evaluation as Ray tasks, on a cluster you run or on a local one started for the search.

Each candidate is one Ray task asking for ``evaluation.ray.cpus_per_task`` CPUs and
``gpus_per_task`` GPUs (fractions allowed: 0.25 puts four candidates on a GPU), running the same
:func:`~hybridnas.evaluate.base.evaluate_candidate` as every other backend. With
``evaluation.ray.address`` the search joins that cluster (and ships this package to it, unless
``ship_code: false``); without it, it starts a local cluster sized for ``evaluation.workers``
candidates per device, keeps Ray's session files under the run (``<run>/ray``) and stops the
cluster at the end. An already connected Ray session (``ray.init`` by the caller) is used as is.

The dataset is put in the object store once; a worker process keeps it (on its GPU when it
fits) for the tasks it runs after the first. A task whose worker dies (killed, out of host
memory, node lost) is re-run by Ray up to ``evaluation.ray.retries`` times, then recorded as
failed (``worker_lost``); the search goes on. Tasks are submitted no faster than the cluster
can start them, so ``evaluation.timeout_s`` is measured from a task's start: the training stops
itself at the timeout, and a task that does not answer well after it is cancelled.

Ray is imported only when this evaluator runs; without it the search says which extra to
install (``pip install 'hybridnas[ray]'``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..config import RunConfig
from ..data import Dataset
from ..errors import MissingExtra, UserError, require
from ..store.layout import RAY_DIR
from ..training import TrainSettings
from . import EVALUATORS
from .base import Evaluator, WorkerSetup, run_setup, start_worker
from .candidate import Candidate, OnResult, failure

PURPOSE = "evaluation.evaluator: ray"
TASK_NAME = "hybridnas-candidate"  # Ray titles a worker process `ray::<name>` while it runs one
SOCKET_PATH_MAX = 100  # Ray's unix sockets live under the temp dir; Linux allows 107 bytes


@dataclass(frozen=True)
class TaskSetup:
    worker: WorkerSetup
    gpu: bool  # the task has a GPU share: Ray made its GPU(s) visible as cuda:0..


_CACHE: Dict[str, Any] = {}  # per Ray worker process: the dataset of the last run it served


def _task(cand: Candidate, data_box: List, setup: TaskSetup):
    """One candidate, in a Ray worker. ``data_box`` holds the dataset's object ref, boxed so Ray
    does not fetch it for every task: a reused worker keeps the copy it has."""
    import ray
    import torch

    device = torch.device("cuda" if setup.gpu else "cpu")
    key = (data_box[0].hex(), str(device), tuple(ray.get_gpu_ids()))
    if _CACHE.get("key") != key:
        _CACHE.clear()
        _CACHE.update(key=key, data=start_worker(ray.get(data_box[0]), setup.worker, device))
    return run_setup(cand, _CACHE["data"], setup.worker, device)


def _connect_local(ray, num_cpus: int, num_gpus: int, visible: Optional[str], temp_dir: str) -> None:
    # Ray 2.60 turns on token authentication, pointless for a cluster only this process uses.
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # `cuda:N`: the cluster's GPU is that one (the raylet inherits this)
        os.environ["CUDA_VISIBLE_DEVICES"] = visible
    try:
        ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, _temp_dir=temp_dir,
                 log_to_driver=False, logging_level=logging.WARNING)
    finally:
        if visible is not None:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved


@EVALUATORS.register("ray")
class RayEvaluator(Evaluator):
    name = "ray"

    def __init__(self, cfg: RunConfig, data: Optional[Dataset], device, settings: Optional[TrainSettings] = None,
                 workdir=None):
        from ..device import evaluation_devices

        super().__init__(cfg, data, device, settings, workdir)
        self.ray = require("ray", "ray", PURPOSE)
        self.rc = cfg.evaluation.ray
        self.devices = evaluation_devices(device)
        self.gpu = self.devices[0].type == "cuda"
        self._connected = False  # we connected or started the cluster: shut down at close
        self._ready = False
        self._scratch: Optional[str] = None  # a temp folder of ours, removed at close

    @classmethod
    def check_config(cls, cfg: RunConfig, source: str = "config") -> None:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise MissingExtra("ray", "ray", PURPOSE)
        r = cfg.evaluation.ray
        if cfg.device == "cpu" and r.gpus_per_task:
            raise UserError(f"{source}: 'evaluation.ray.gpus_per_task' is {r.gpus_per_task} but device is cpu; "
                            "set it to 0 or use device cuda")

    # ------------------------------------------------------------------ sizing

    @property
    def concurrent(self) -> int:
        """Candidates side by side on this machine (for a cluster started here)."""
        return self.cfg.evaluation.workers * len(self.devices)

    def gpus_per_task(self) -> float:
        if self.rc.gpus_per_task is not None:
            return float(self.rc.gpus_per_task)
        return 1.0 / self.cfg.evaluation.workers if self.gpu else 0.0

    def cpus_per_task(self) -> float:
        from ..device import cpu_cores

        if self.rc.cpus_per_task is not None:
            return float(self.rc.cpus_per_task)
        if self.rc.address:
            return 1.0
        return float(max(1, (self.rc.num_cpus or cpu_cores()) // self.concurrent))

    # ------------------------------------------------------------------ lifecycle

    def _temp_dir(self) -> str:
        """``<run>/ray`` when its socket paths stay within the limit, else a short temp folder."""
        if self.workdir is not None:
            path = Path(self.workdir).resolve() / RAY_DIR
            # Ray adds session_<date>_<time>_<pid>/sockets/plasma_store (~70 characters).
            if len(str(path)) + 70 <= SOCKET_PATH_MAX:
                path.mkdir(parents=True, exist_ok=True)
                return str(path)
        self._scratch = tempfile.mkdtemp(prefix="hnray")
        return self._scratch

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            pass  # the caller's session (a test module's cluster, a notebook)
        elif self.rc.address:
            try:
                ray.init(address=self.rc.address, log_to_driver=False, logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"cannot connect to the Ray cluster at '{self.rc.address}' "
                                f"(evaluation.ray.address): {str(exc).splitlines()[0]}; "
                                "start it or fix the address") from None
            self._connected = True
        else:
            cpus = self.rc.num_cpus or int(round(self.cpus_per_task() * self.concurrent))
            gpus = self.rc.num_gpus if self.rc.num_gpus is not None else (len(self.devices) if self.gpu else 0)
            single = self.devices[0].index if self.gpu and len(self.devices) == 1 else None
            _connect_local(ray, max(cpus, 1), gpus, None if single is None else str(single), self._temp_dir())
            self._connected = True
        self._check_resources()
        self._data_ref = ray.put(self.data.to("cpu"))
        self._ready = True

    def _check_resources(self) -> None:
        """Refuse tasks the cluster can never run (Ray would queue them forever)."""
        have = self.ray.cluster_resources()
        cpus, gpus = self.cpus_per_task(), self.gpus_per_task()
        if cpus > have.get("CPU", 0):
            raise UserError(f"each Ray task asks for {cpus:g} CPUs (evaluation.ray.cpus_per_task) but the cluster has "
                            f"{have.get('CPU', 0):g}; lower cpus_per_task or add CPUs")
        if gpus > have.get("GPU", 0):
            raise UserError(f"each Ray task asks for {gpus:g} GPUs (evaluation.ray.gpus_per_task) but the cluster has "
                            f"{have.get('GPU', 0):g}; set gpus_per_task to 0 or add GPUs")

    def capacity(self) -> int:
        """How many tasks the cluster can run at once now."""
        have = self.ray.cluster_resources()
        n = int(round(have.get("CPU", 0) / self.cpus_per_task(), 6))
        if self.gpus_per_task():
            n = min(n, int(round(have.get("GPU", 0) / self.gpus_per_task(), 6)))
        return max(1, n)

    def close(self) -> None:
        if self._connected:
            self.ray.shutdown()  # stops the cluster if we started it, else only disconnects
            self._connected = False
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
        self._ready = False

    # ------------------------------------------------------------------ running

    def cpu_share(self) -> int:
        return max(1, int(self.cpus_per_task()))

    def _remote(self):
        ray = self.ray
        cpus, gpus = self.cpus_per_task(), self.gpus_per_task()
        threads = self.threads()[0]
        copies = max(1, int(round(1 / gpus))) if 0 < gpus < 1 else 1
        setup = TaskSetup(self.setup(threads, copies), gpu=gpus > 0)
        pkg = Path(__file__).resolve().parents[1]  # the hybridnas package folder
        # Workers import this very package: put its folder first on their path, and on a
        # cluster of other machines ship it along.
        # OpenMP threads that sleep when idle (see hybridnas.device.passive_wait), unless set here.
        env: Dict[str, Any] = {"env_vars": {"PYTHONPATH": os.pathsep.join(
            p for p in (str(pkg.parent), os.environ.get("PYTHONPATH", "")) if p),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}}
        if self.rc.address and self.rc.ship_code:
            env["py_modules"] = [str(pkg)]
        fn = ray.remote(_task).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=self.rc.retries, retry_exceptions=False,
            name=TASK_NAME, runtime_env=env,
        )
        return fn, setup

    def _hard_limit(self) -> Optional[float]:
        t = self.cfg.evaluation.timeout_s
        # Training stops itself at the timeout; this catches a task that hangs outright. The slack
        # covers a fresh worker's start (imports, CUDA context) and the evaluation after training.
        return None if t is None else 1.5 * t + 60.0

    def _run(self, candidates: List[Candidate], done: OnResult) -> None:
        ray = self.ray
        if not self._ready:
            self._connect()
        fn, setup = self._remote()
        window = self.capacity()
        todo = list(candidates)
        running: Dict[Any, tuple] = {}  # ref -> (candidate, submitted at)
        hard = self._hard_limit()
        try:
            while todo or running:
                while todo and len(running) < window:
                    c = todo.pop(0)
                    running[fn.remote(c, [self._data_ref], setup)] = (c, time.monotonic())
                wait_s = None
                if hard is not None:
                    first = min(t for _, t in running.values())
                    wait_s = max(0.0, first + hard - time.monotonic())
                ready, _ = ray.wait(list(running), num_returns=1, timeout=wait_s)
                for ref in ready:
                    c, _ = running.pop(ref)
                    done(c, self._result(ref, c))
                if hard is not None:
                    now = time.monotonic()
                    for ref, (c, t) in list(running.items()):
                        if now - t > hard:
                            ray.cancel(ref, force=True)
                            running.pop(ref)
                            done(c, failure(c, "timeout",
                                            f"no answer {now - t:.0f} s after the task started; cancelled"))
        except BaseException:
            for ref in running:  # a bug or an interrupt: do not leave tasks behind
                ray.cancel(ref, force=True)
            raise

    def _result(self, ref, c: Candidate):
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError:
            raise  # an exception inside the task: a bug, not a failed candidate
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            return failure(c, "worker_lost", f"{type(exc).__name__} after {self.rc.retries} retries: {first}")
