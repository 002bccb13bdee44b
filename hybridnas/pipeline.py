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

import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .config import (
    Checks,
    RunConfig,
    Source,
    check_against_data,
    config_from_dict,
    dump_yaml,
    load_config,
    plain_name,
    resolve_space_path,
)
from .errors import UserError
from .progress import Progress
from .store import FORMAT_VERSION, RunStore, WriteFailed
from .store.layout import (
    ARCH,
    BLOCK_CKPT,
    BLOCK_DIR,
    BLOCK_MEMBERS,
    BLOCK_WARM,
    BLOCKS,
    CONFIG,
    DATASET,
    ENTRIES,
    EVALS,
    FINGERPRINT,
    INIT_FROM,
    LOG,
    MANIFEST,
    SUMMARY,
    TABLE,
    export_dir,
)

RUNS_DIR = Path("runs")


def _git_commit() -> Optional[str]:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def manifest(cfg: RunConfig, device) -> Dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from .core.version import __version__

    versions = {}
    for pkg in ("torch", "pymoo", "deap", "numpy", "scikit-learn", "matplotlib", "PyYAML"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "format_version": FORMAT_VERSION,
        "hybridnas": __version__,
        "python": platform.python_version(),
        "packages": versions,
        "seed": cfg.seed,
        "git_commit": _git_commit(),
        "device": str(device),
        "host": platform.node(),
        "platform": platform.platform(),
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# the entries of a run directory (docs/concepts.md, "What a run writes"), its lock and temporaries: a folder
# holding only these (a search stopped before its manifest) may be started again; anything else
# is the user's, and a new run never writes beside it
_RUN_ENTRY = re.compile(
    "^(" + "|".join(re.escape(e) for e in ENTRIES) + r"|\.write-test-\d+|\..+\.tmp)$"
)


def new_run_dir(cfg: RunConfig, name: Optional[str], out: Optional[Path]) -> Path:
    base = Path(out) if out else RUNS_DIR
    if name is not None:
        if not plain_name(name):
            raise UserError(f"--name {name!r} is not a plain folder name; give a name like 'digits-small' "
                            f"(use --out to choose where runs go)")
        path = base / name
        if (path / MANIFEST).exists():
            raise UserError(f"run '{path}' already exists; resume it with --resume {path} or choose another --name")
        if path.exists() and (not path.is_dir() or any(not _RUN_ENTRY.match(p.name) for p in path.iterdir())):
            raise UserError(f"'{path}' exists and is not a hybridnas run; choose another --name (or --out)")
        return path
    stem = cfg.name
    path, k = base / stem, 1
    while path.exists() and any(path.iterdir()):
        k += 1
        path = base / f"{stem}-{k}"
    return path


def config_source(space: Optional[str] = None, overrides: Sequence[str] = (), resume: Optional[str] = None) -> str:
    """What errors about the config name as its origin: the space file, or ``--set`` for the keys
    it gave (:class:`~hybridnas.config.Source`); a resumed run's ``config.yaml``."""
    if resume:
        return Source(str(Path(resume) / CONFIG), overrides)
    try:
        return Source(str(resolve_space_path(space)), overrides)
    except UserError:
        return "config"


def validate(cfg: RunConfig, source: str = "config", device=None):
    """Every check of a search that needs the data or the machine, before anything is written:
    the device and precision, the data (loaded and checked by its source), the bounds that follow
    from it (batch sizes, the cutout of ``train``, cross-validation folds) and the constraints
    (params and FLOPs against the smallest network of the space, latency against its stem).
    Returns the dataset (``None`` for a tabular space). Writes nothing."""
    from .data import load_dataset
    from .device import resolve_device, resolve_precision
    from .space.costs import check_constraints

    device = device if device is not None else resolve_device(cfg.device)
    ck = Checks(source)
    if cfg.evaluation.precision == "fp16" and device.type != "cuda":
        ck.bad("evaluation.precision", f"is 'fp16', which needs a CUDA GPU, and this run trains on {device}; "
                                       "use auto, bf16 or fp32")
    resolve_precision(cfg.evaluation.precision, device)
    if cfg.tabular:
        return None
    try:
        data = load_dataset(cfg.data, cfg.seed)
    except MemoryError:  # numpy refuses an allocation beyond the machine's memory at once
        size = f"{cfg.data.image_size}x{cfg.data.image_size}" if cfg.data.image_size else "their size"
        raise UserError(f"the images of {cfg.data.dataset} at {size} do not fit in this machine's memory; lower "
                        "data.image_size or cap the images with data.subset") from None
    check_against_data(cfg, len(data.train), tuple(data.image_size), source)
    if cfg.evaluation.folds > 1:
        from .evaluate.folds import Folds

        Folds(cfg.evaluation.folds, 0).check(data)
    check_constraints(cfg, data.in_chans, data.num_classes, data.image_size)
    limit = cfg.constraints.max_latency_ms
    if limit is not None:
        floor = _stem_latency(cfg, data, device)
        if limit < floor / 2:  # half: a margin for timing noise, so only a limit no network can meet is refused
            ck.bad("constraints.max_latency_ms", f"is {limit:g} ms, but the stem convolution alone takes about "
                                                  f"{floor:.3g} ms on {device}; raise the limit")
    return data


def _stem_latency(cfg: RunConfig, data, device) -> float:
    """Milliseconds of the narrowest stem the space allows (every network starts with one), timed
    as the latency table times its components, on one image: a floor under every network's
    latency at any batch; 0 when it cannot be timed here (then only the search can tell)."""
    import torch

    from .space.latency import time_call

    c = min(cfg.network.stem)
    if 4 * c * (9 * data.in_chans + data.image_size[0] * data.image_size[1]) > 2**28:
        return 0.0  # a stem over 256 MiB is not built to time it; the search measures it
    try:
        stem = torch.nn.Sequential(torch.nn.Conv2d(data.in_chans, c, 3, padding=1, bias=False),
                                   torch.nn.BatchNorm2d(c)).to(device).eval()
        x = torch.randn(1, data.in_chans, *data.image_size, device=device)
        return time_call(lambda: stem(x), device, warmup=min(cfg.latency.warmup, 3), repeats=10)
    except (RuntimeError, MemoryError):  # a stem too wide to build here: the search will say so
        return 0.0


def _export_knee(cfg: RunConfig, store: RunStore, progress: Progress) -> Dict[str, Any]:
    """Export the knee of the front (state + torch.export), unless it is exported already (a
    resumed run keeps what the user exported) or the run keeps no weights."""
    from .analysis.pick import pick

    if cfg.evaluation.keep_weights == "none":
        progress.info("no model exported: evaluation.keep_weights is 'none'; "
                      "train one with 'hybridnas train RUN --id ID', then export it")
        return {}
    chosen = pick(store, rule="knee")[0]
    rel = export_dir(chosen["arch_id"])
    if not store.exists(f"{rel}/{ARCH}"):
        from .export import export_model

        export_model(store, chosen["arch_id"], formats=("state", "pt2"))
    return {"exported": {"arch_id": chosen["arch_id"], "path": rel, "rule": "knee"}}


def open_run(
    space: Optional[str] = None,
    overrides: Sequence[str] = (),
    *,
    name: Optional[str] = None,
    resume: Optional[str] = None,
    out: Optional[str] = None,
    notes: Optional[list] = None,
) -> tuple:
    """Resolve the config and the run directory; returns ``(cfg, store)`` (not yet locked).
    What the overrides changed beyond what they name (options a new block strategy does not
    have) is appended to ``notes``."""
    if resume:
        store = RunStore.open_existing(Path(resume))
        if not store.exists(CONFIG):
            raise UserError(f"run '{resume}' has no config.yaml; it cannot be resumed - start a new run")
        import yaml

        try:
            data = yaml.safe_load(store.path(CONFIG).read_text())
        except yaml.YAMLError:
            raise UserError(f"'{store.path(CONFIG)}' is corrupted; start a new run") from None
        if space:
            raise UserError("give either a space or --resume, not both")
        cfg = config_from_dict(data, source=str(store.path(CONFIG)))
        if overrides:
            cfg = extend(cfg, data, overrides, store, notes)
        check_resumed(cfg, store, notes if notes is not None else [])
        return cfg, store
    cfg = load_config(space, overrides, notes=notes)
    store = RunStore(new_run_dir(cfg, name, Path(out) if out else None))
    return cfg, store


def check_resumed(cfg: RunConfig, store: RunStore, notes: list) -> None:
    """Before a resume writes anything: refuse a config that is not the run's (its fingerprint;
    the data is compared once loaded, in :func:`run_search`), and say in ``notes`` what changed
    that does not refuse it (versions), that the run has no fingerprint yet, and what records
    were lost (which the resume trains again)."""
    from .results import RunResults
    from .store import fingerprint

    saved = fingerprint.read(store)
    if saved is None:
        notes.append(f"run {store.root} was made before runs kept a {FINGERPRINT}, so this resume cannot "
                     f"check that its config and data are the ones it was made with; it writes one from them now")
    else:
        fingerprint.compare_config(store, cfg, saved)
        changed = fingerprint.version_warning(saved)
        if changed:
            notes.append(f"warning: {changed}")
    results = RunResults(store)
    loss = results.loss_line()
    if loss:
        n = results.lost()["lost"]
        retrain = (f"this resume trains the {n} lost network{'s' if n != 1 else ''} again as its replay reaches "
                   f"{'them' if n != 1 else 'it'}" if n else "nothing else is missing")
        notes.append(f"warning: {loss}; {retrain}")


# what a resume may change: the search's length, so a finished search can be extended
EXTENSIBLE = ("engine.generations", "engine.evaluations")


def extend(cfg: RunConfig, data: Dict[str, Any], overrides: Sequence[str], store: RunStore,
           notes: Optional[list] = None) -> RunConfig:
    """The config of a run being resumed with ``--set`` on :data:`EXTENSIBLE` keys: more
    generations or a larger evaluation budget (or the limit removed). The search then replays
    what it did - nothing is trained again - and continues from its last population. Any other
    key, or a lower or new limit, is a :class:`UserError`."""
    from .config import apply_overrides, parse_override

    allowed = " and ".join(EXTENSIBLE)
    for text in overrides:
        key = ".".join(parse_override(text)[0])
        if key not in EXTENSIBLE:
            raise UserError(f"--set {key} cannot change a run being resumed (its config is fixed; only {allowed} can "
                            f"be raised, to extend the search); start a new run instead")
    new = config_from_dict(apply_overrides(data, overrides), source=Source(str(store.path(CONFIG)), overrides))
    for key in EXTENSIBLE:
        name = key.split(".")[1]
        old, now = getattr(cfg.engine, name), getattr(new.engine, name)
        if now is not None and (old is None or now < old):
            was = "no limit" if old is None else old
            raise UserError(f"--set {key}={now} would stop the resumed search earlier than it was set to ({was}); "
                            "a resume can raise or remove a limit, not lower or add one")
        if now != old and notes is not None:
            notes.append(f"extending run {store.root}: {key} {'none' if old is None else old} -> "
                         f"{'none' if now is None else now}; finished evaluations are replayed, not retrained")
    return new


def _table_points(cfg: RunConfig, store: RunStore, progress: Progress):
    """A tabular space's points; ``table.json`` pins the table, so a resume on an edited one is refused."""
    from .network.points import TablePoints
    from .space.table import load_table

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


def _extension(cfg: RunConfig, store: RunStore) -> Dict[str, Any]:
    """Write the config of a run resumed with a longer search (see :func:`extend`) and say what
    changed: ``{key: [old, new]}``; nothing when the config is the one saved."""
    import yaml

    saved = config_from_dict(yaml.safe_load(store.path(CONFIG).read_text()), validate=False)
    if saved == cfg:
        return {}
    store.write_text(CONFIG, dump_yaml(cfg))
    return {key: [getattr(saved.engine, key.split(".")[1]), getattr(cfg.engine, key.split(".")[1])]
            for key in EXTENSIBLE if getattr(saved.engine, key.split(".")[1]) != getattr(cfg.engine, key.split(".")[1])}


def failure_summary(records) -> Dict[str, Dict[str, Any]]:
    """Failed candidates by kind: how many, and the first one's reason."""
    from .evaluate.candidate import failure_kind

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
    from .estimate import describe, estimate

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

    from .block.stage import BlockStage
    from .callbacks import StopSearch, resolve
    from .device import configure, resolve_device, restore_threads, seed_everything
    from .evaluate.base import build_evaluator
    from .network.points import NetworkPoints
    from .network.stage import NetworkStage
    from .space.costs import check_constraints
    from .space.latency import LatencyTable
    from .store import fingerprint

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
            from .network.warmstart import check_source

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
        extended = _extension(cfg, store) if continued else {}
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
                from .network.warmstart import prepare_library

                prepare_library(cfg, store, init_from, progress)
            estimated = _estimate(cfg, data, store, device, progress)  # its random state is restored after
            data = data.to(device)
            t_stage = time.perf_counter()
            library = BlockStage(cfg, data, store, device, progress).run()
            from .estimate import pace_of

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
            from .network.warmstart import seed

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
                from .analysis.plots import plot_front

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
