"""Evaluation on this machine: in-process, or a process pool spanning the CPU or every GPU.

``evaluation.workers`` is the number of candidates trained side by side *per device*: on a CPU
machine, N workers sharing the cores; with GPUs, N workers on each visible GPU (or on the one
``cuda:N`` names), all in one pool, so a free worker on any GPU takes the next candidate. One
worker on one device trains in-process.

Each worker trains with one torch thread by default (``threads``, at most its share of the
cores): tiny networks barely use a second thread, so two single-threaded workers nearly double
the throughput of one process with two threads, and threads that outnumber the free cores of a
shared machine collapse. Workers start with ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set a
policy): an OpenMP thread waiting for work sleeps instead of spinning on a core another needs.
On a GPU, several small candidates on one card fill what one leaves idle. The dataset is put in
shared memory once and handed to the workers, each of which keeps it on its GPU when the copies
fit (else batches come from pinned host memory). A worker that dies is replaced and its
candidate retried once, then recorded as failed.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, wait
from typing import Dict, List, Optional

from ..config import RunConfig
from ..data import Dataset
from ..training import TrainSettings
from . import EVALUATORS
from .base import Evaluator, WorkerSetup, run_setup, start_worker
from .candidate import Candidate, OnResult, failure

_WORKER: Dict[str, object] = {}


def _init_worker(data, setup: WorkerSetup, slots):
    device = slots.get()  # one slot per worker: which device this process trains on
    _WORKER.update(data=start_worker(data, setup, device), setup=setup, device=device)


def _work(cand: Candidate):
    return run_setup(cand, _WORKER["data"], _WORKER["setup"], _WORKER["device"])


@EVALUATORS.register("local")
class LocalEvaluator(Evaluator):
    name = "local"
    retries = 1

    def __init__(self, cfg: RunConfig, data: Optional[Dataset], device, settings: Optional[TrainSettings] = None,
                 workdir=None):
        from ..device import evaluation_devices

        super().__init__(cfg, data, device, settings, workdir)
        self.devices = evaluation_devices(device)
        self.per_device = cfg.evaluation.workers
        self.workers = self.per_device * len(self.devices)
        self._pool = None

    def cpu_share(self) -> int:
        from ..device import cpu_share

        return cpu_share(self.workers)

    def _start(self):
        from concurrent.futures import ProcessPoolExecutor

        import torch.multiprocessing as tmp

        from ..device import passive_wait

        passive_wait()  # spawned workers read the environment when they load torch
        cpu_data = self.data.to("cpu")
        for split in (cpu_data.train, cpu_data.val, cpu_data.test):
            split.x.share_memory_()
            split.y.share_memory_()
        ctx = tmp.get_context("spawn")
        slots = ctx.Queue()
        for i in range(self.workers):  # round robin: worker i on device i mod n
            slots.put(str(self.devices[i % len(self.devices)]))
        setup = self.setup(self.threads()[0], copies=self.per_device)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(cpu_data, setup, slots),
        )

    def _run(self, candidates: List[Candidate], done: OnResult) -> None:
        if self.workers <= 1:
            return super()._run(candidates, done)
        from concurrent.futures.process import BrokenProcessPool

        attempts = {c.arch_id: 0 for c in candidates}
        queue = list(candidates)
        while queue:
            if self._pool is None:
                self._start()
            futures = {self._pool.submit(_work, c): c for c in queue}
            queue = []
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    c = futures[f]
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        attempts[c.arch_id] += 1
                        if attempts[c.arch_id] > self.retries:
                            done(c, failure(c, "worker_lost", f"the worker process died {attempts[c.arch_id]} times"))
                        else:
                            queue.append(c)
                        continue
                    done(c, result)
            if queue:  # the pool is broken: replace it before retrying
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
