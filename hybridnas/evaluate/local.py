"""Evaluation on this machine: in-process for one worker, a process pool for several.

With ``evaluation.workers: N > 1`` candidates train in N spawned worker processes. On CPU each
worker is pinned to its share of the cores (``torch.set_num_threads``): tiny networks barely use
a second thread, so two single-threaded workers nearly double the throughput of one process with
two threads. On a GPU every worker uses the same device, several candidates sharing it. The
dataset is put in shared memory once and handed to workers at start-up; a worker that dies is
replaced and its candidate retried once, then recorded as failed.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Dict, List

from . import EVALUATORS
from .base import Candidate, Evaluator, OnResult, evaluate_candidate

_WORKER: Dict[str, object] = {}


def _init_worker(data, settings, device, threads):
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(data=data.to(device), settings=settings, device=device)


def _work(cand: Candidate):
    return evaluate_candidate(cand, _WORKER["data"], _WORKER["settings"], _WORKER["device"])


def cpu_share(workers: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(workers, 1))


@EVALUATORS.register("local")
class LocalEvaluator(Evaluator):
    name = "local"
    retries = 1

    def __init__(self, cfg, data, device, settings=None):
        super().__init__(cfg, data, device, settings)
        self.workers = cfg.evaluation.workers
        self._pool = None

    def _start(self):
        import torch.multiprocessing as tmp
        from concurrent.futures import ProcessPoolExecutor

        cpu_data = self.data.to("cpu")
        for split in (cpu_data.train, cpu_data.val, cpu_data.test):
            split.x.share_memory_()
            split.y.share_memory_()
        threads = self.cfg.threads or cpu_share(self.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=tmp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(cpu_data, self.settings, str(self.device), threads),
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
                        done(c, f.result())
                    except BrokenProcessPool:
                        attempts[c.arch_id] += 1
                        if attempts[c.arch_id] > self.retries:
                            done(c, {"arch_id": c.arch_id, "epochs": c.epochs, "status": "failed",
                                     "reason": f"worker process died {attempts[c.arch_id]} times"})
                        else:
                            queue.append(c)
            if queue:  # the pool is broken: replace it before retrying
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
