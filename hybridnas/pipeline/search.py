"""The whole search, from a config to a front: what ``hybridnas search`` runs.

Steps: take the lock of a run being resumed; :func:`validate`: load and check the data, the
bounds that follow from it, the device and the constraints (before a new run's directory is
made, so bad input leaves nothing: the config itself was checked when it was loaded);
take the new run's lock; write the resolved config and the manifest; seed and configure the
device; run the block stage (library of cells); run the network stage (front) - a tabular space
skips data and block stage, its results are looked up; draw the front, pick the knee model and
export it; write ``summary.json``. Each step skips what the run store already holds, so the
same call resumes a killed search; a write that fails for want of space says how to resume.
"""


from __future__ import annotations

import shutil
import time
from typing import Any, Dict, List, Optional

from ..config import (
    RunConfig,
    dump_yaml,
)
from ..errors import UserError
from ..progress import Progress
from ..store import RunStore, WriteFailed
from ..store.layout import (
    ARCH,
    BLOCK_CKPT,
    BLOCK_DIR,
    BLOCK_MEMBERS,
    BLOCK_WARM,
    BLOCKS,
    CONFIG,
    DATASET,
    EVALS,
    FINGERPRINT,
    INIT_FROM,
    LOG,
    MANIFEST,
    SUMMARY,
    TABLE,
    export_dir,
)
from .rundir import manifest, save_extension
from .validate import validate


def _export_knee(cfg: RunConfig, store: RunStore, progress: Progress) -> Dict[str, Any]:
    """Export the knee of the front (state + torch.export), unless it is exported already (a
    resumed run keeps what the user exported) or the run keeps no weights."""
    from ..analysis.pick import pick

    if cfg.evaluation.keep_weights == "none":
        progress.info("no model exported: evaluation.keep_weights is 'none'; "
                      "train one with 'hybridnas train RUN --id ID', then export it")
        return {}
    chosen = pick(store, rule="knee")[0]
    rel = export_dir(chosen["arch_id"])
    if not store.exists(f"{rel}/{ARCH}"):
        from ..export import export_model

        export_model(store, chosen["arch_id"], formats=("state", "pt2"))
    return {"exported": {"arch_id": chosen["arch_id"], "path": rel, "rule": "knee"}}


def _table_points(cfg: RunConfig, store: RunStore, progress: Progress):
    """A tabular space's points; ``table.json`` pins the table, so a resume on an edited one is refused."""
    from ..network.points import TablePoints
    from ..space.table import load_table

    table = load_table(cfg)
    info = table.info()
    saved = store.read_json(TABLE, default=None)
    if saved is None:
        store.write_json(TABLE, info)
    elif saved.get("sha256") != info["sha256"]:
        raise UserError(f"table {table.path} changed since run '{store.root}' started (sha256 differs); "
                        "restore it or start a new run")
    progress.info(f"run {store.root} | {table.describe()} | nothing is trained")
    return TablePoints(table, cfg.table.path)


def failure_summary(records) -> Dict[str, Dict[str, Any]]:
    """Failed candidates by kind: how many, and the first one's reason."""
    from ..evaluate.candidate import failure_kind

    out: Dict[str, Dict[str, Any]] = {}
    for r in records:
        k = failure_kind(r)
        entry = out.setdefault(k, {"count": 0, "example": f"{r.get('genome', r['arch_id'])}: {r.get('reason', '')}"})
        entry["count"] += 1
    return out


def _estimate(cfg: RunConfig, data, store: RunStore, device, progress: Progress, library=None,
              pace: Optional[float] = None) -> Optional[Dict[str, Any]]:
    """The time estimate of what is left of the search, shown before it starts (and, with the
    library, before the network stage, its range widened by ``pace``: how many times its estimate
    the block stage took); none for a table or when nothing is left to do."""
    from ..estimate import describe, estimate

    est = estimate(cfg, data, store, device, library)
    if est is None or est.total_s == 0:
        return None
    progress.info(describe(est, again=library is not None, pace=pace))
    return {**est.to_json(), **({"block_pace": pace} if pace is not None else {})}


SESSION_TIMES = ("block_stage_s", "network_stage_s", "total_s")


def _sessions(previous: Optional[Dict[str, Any]]) -> List[Dict[str, float]]:
    """The times of the sessions before this one (a run's summary before it kept them: its last)."""
    if not previous:
        return []
    if "sessions" in previous:
        return list(previous["sessions"])
    return [{k: float(previous.get(k) or 0.0) for k in SESSION_TIMES}]


def run_search(cfg: RunConfig, store: RunStore, progress: Optional[Progress] = None, export: bool = True,
               callbacks=None, source: str = "config", init_from: Optional[str] = None) -> Dict[str, Any]:
    """Run (or resume) the search of ``cfg`` in ``store`` (module docstring); ``callbacks``:
    :class:`hybridnas.callbacks.Callback` s told of each evaluation, generation and the end; every message
    also goes to ``RUN/search.log``; ``source`` is what errors about the config name as its origin
    (:func:`config_source`); ``init_from``: a run whose library and front start this one
    (:mod:`hybridnas.network.warmstart`; a resumed run replays what its ``init_from.json`` says)."""
    import contextlib

    import torch

    from ..block.stage import BlockStage
    from ..callbacks import StopSearch, resolve
    from ..device import configure, resolve_device, restore_threads, seed_everything
    from ..evaluate.base import build_evaluator
    from ..network.points import NetworkPoints
    from ..network.stage import NetworkStage
    from ..space.costs import check_constraints
    from ..space.latency import LatencyTable
    from ..store import fingerprint

    progress = progress or Progress()
    callbacks = resolve(callbacks, progress)
    logged, log = contextlib.ExitStack(), None
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    resumed = store.root.exists()
    continued = store.exists(MANIFEST)  # a session of a run started before
    if resumed:  # refuse a run held by another search before anything else
        store.ensure_writable()
        store.lock()
    threads_before = None
    try:
        # what bad input can break is checked before a new run's directory is made, so a
        # refused search leaves nothing behind
        data = validate(cfg, source, device)
        made = fingerprint.make(cfg, data)
        saved = fingerprint.read(store) if continued else None
        if saved is not None:  # the config was compared as it was read (check_resumed)
            fingerprint.compare_data(store, cfg, saved, made)
        if init_from is not None:
            from ..network.warmstart import check_source

            check_source(cfg, init_from, store)
        if not resumed:
            store.ensure_writable()
            store.lock()
        log = logged.enter_context(progress.log_file(store.path(LOG)))  # the run is ours: log into it
        if not store.exists(MANIFEST):
            store.write_text(CONFIG, dump_yaml(cfg))
            store.write_json(FINGERPRINT, made)
            store.write_json(MANIFEST, manifest(cfg, device))
        elif saved is None:  # a run made before fingerprints
            store.write_json(FINGERPRINT, made)
        extended = save_extension(cfg, store) if continued else {}
        callbacks.start(store)
        threads_before = configure(device, cfg.deterministic, cfg.threads)
        estimated = None
        seed_everything(cfg.seed)
        t_block = time.perf_counter()
        if cfg.tabular:
            points, library = _table_points(cfg, store, progress), []
        else:
            if not store.exists(DATASET):
                store.write_json(DATASET, data.info())
            progress.info(f"run {store.root} | {data.describe()} | device {device} | "
                          f"torch threads {torch.get_num_threads()}")
            if init_from is not None:  # before the block stage: a reused library skips it
                from ..network.warmstart import prepare_library

                prepare_library(cfg, store, init_from, progress)
            estimated = _estimate(cfg, data, store, device, progress)  # its random state is restored after
            data = data.to(device)
            t_stage = time.perf_counter()
            library = BlockStage(cfg, data, store, device, progress).run()
            from ..estimate import pace_of

            pace = pace_of(estimated, time.perf_counter() - t_stage)
            check_constraints(cfg, data.in_chans, data.num_classes, data.image_size, [e.genotype for e in library])
            for i, e in enumerate(library):
                progress.info(f"  block {i}: {e.net_params:,} params, {2 * e.net_macs:,} FLOPs (reference net) | "
                              f"{e.genotype}")
            if estimated is not None and estimated.get("block_stage_s") is not None:  # again, with the real blocks
                estimated["with_library"] = _estimate(cfg, data, store, device, progress, library, pace)
            latency = LatencyTable.from_config(cfg, store, device) if cfg.wants_latency else None
            points = NetworkPoints(cfg, library, data, latency)
        block_s = time.perf_counter() - t_block

        t_net = time.perf_counter()
        with build_evaluator(cfg, data, device, workdir=store.root) as evaluator:
            threads, note = evaluator.threads()
            if not cfg.tabular:
                progress.info(f"network stage: {cfg.evaluation.workers} worker(s) per device, "
                              f"{threads} torch thread(s) each"
                              + (f" ({note})" if note else ""))
            stage = NetworkStage(cfg, points, evaluator, store, progress, callbacks or None)
            from ..network.warmstart import seed

            initial = None if cfg.tabular else seed(cfg, store, stage.problem, progress)  # --init-from
            result = stage.run(initial)
        net_s = time.perf_counter() - t_net

        summary: Dict[str, Any] = {
            "run": str(store.root),
            "blocks": len(library),
            "evaluated": result["evaluated"],
            "failed": len(result["failed"]),
            "failures": failure_summary(result["failed"]),
            "front_size": len(result["front"]),
            "block_stage_s": block_s,
            "network_stage_s": net_s,
            "resumed": continued,  # the times are this session's: what earlier sessions did is not redone
            **result["search"],  # proposed, duplicates rejected, infeasible, distinct evaluations, budget
        }
        previous = store.read_json(SUMMARY, default=None) if continued else None
        if extended:
            summary["extended"] = extended
        if store.exists(INIT_FROM):
            summary["init_from"] = {k: v for k, v in store.read_json(INIT_FROM).items() if k != "seeds"}
        if cfg.evaluation.fidelity.budgets:
            summary["stopped_early"] = result["stopped_early"]
        if estimated is not None or (previous and "estimate" in previous):  # a finished run's resume estimates nothing
            summary["estimate"] = estimated if estimated is not None else previous["estimate"]
        front = result["front"]
        plottable = bool(front) and all(k in r for r in front for k in ("val_acc", "params", "flops"))
        if front and all("val_acc" in r for r in front):
            best = max(front, key=lambda r: r["val_acc"])
            summary.update(best_val_acc=best["val_acc"], best_test_acc=best.get("test_acc"),
                           best_arch_id=best["arch_id"])
        if front and all("params" in r for r in front):
            params = [r["params"] for r in front]
            summary.update(params_range=[min(params), max(params)], params_span=max(params) / max(min(params), 1))
        try:
            if plottable:
                from ..analysis.plots import plot_front

                summary["plots"] = [str(p.relative_to(store.root)) for p in plot_front(store)]
        except WriteFailed:
            raise
        except UserError as exc:
            progress.info(f"plot skipped: {exc}")
        if export and front and not cfg.tabular:
            summary.update(_export_knee(cfg, store, progress))
        summary["total_s"] = time.perf_counter() - t0
        summary["sessions"] = _sessions(previous) + [{k: summary[k] for k in SESSION_TIMES}]
        summary["search_s"] = sum(x["block_stage_s"] + x["network_stage_s"] for x in summary["sessions"])
        store.write_json(SUMMARY, summary)
        callbacks.end(summary)
        return summary
    except StopSearch as exc:
        progress.info(f"search stopped by a callback{f' ({exc})' if str(exc) else ''}; everything evaluated is kept: "
                      f"resume with: hybridnas search --resume {store.root}")
        raise
    except WriteFailed as exc:  # a full disk: everything written so far is kept, the run resumes
        if not resumed and not store.exists(MANIFEST):  # nothing to resume: leave no trace
            shutil.rmtree(store.root, ignore_errors=True)
            raise exc.then("run the same command again") from None
        raise exc.then(f"resume with: hybridnas search --resume {store.root}") from None
    except UserError as exc:  # bad input, found only once a stage ran (memory, the library against the constraints)
        if log is not None:  # leaves the run as it was, its log included
            log.discard()
        if continued:
            raise
        if not _worth_keeping(store):  # a new run with nothing computed: no trace, the same command again
            store.unlock()
            shutil.rmtree(store.root, ignore_errors=True)
            raise
        raise UserError(f"{exc} (run {store.root} keeps what it computed; if it cannot go on, remove it with: "
                        f"rm -r {store.root})") from None
    finally:
        callbacks.close()
        logged.close()
        restore_threads(threads_before)
        store.unlock()


def _worth_keeping(store: RunStore) -> bool:
    """Whether a new run holds work a resume or a new run could reuse: a block-stage checkpoint
    or member, the library, or evaluations (not only its config, manifest and data summary)."""
    block = store.path(BLOCK_DIR)
    return (any(store.exists(rel) for rel in (BLOCKS, EVALS, BLOCK_CKPT, BLOCK_WARM))
            or (block.is_dir() and any(block.glob(BLOCK_MEMBERS))))
