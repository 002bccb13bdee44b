"""A run directory: open a new one or a resumed one (the config it holds, what a resume may
change), and the manifest written into it."""


from __future__ import annotations

import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from ..config import (
    RunConfig,
    Source,
    config_from_dict,
    dump_yaml,
    load_config,
    plain_name,
    resolve_space_path,
)
from ..core.version import __version__
from ..errors import UserError
from ..store import FORMAT_VERSION, RunStore
from ..store.layout import (
    CONFIG,
    ENTRIES,
    FINGERPRINT,
    MANIFEST,
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
    from ..results import RunResults
    from ..store import fingerprint

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
    from ..config import apply_overrides, parse_override

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


def save_extension(cfg: RunConfig, store: RunStore) -> Dict[str, Any]:
    """Write the config of a run resumed with a longer search (see :func:`extend`) and say what
    changed: ``{key: [old, new]}``; nothing when the config is the one saved."""
    import yaml

    saved = config_from_dict(yaml.safe_load(store.path(CONFIG).read_text()), validate=False)
    if saved == cfg:
        return {}
    store.write_text(CONFIG, dump_yaml(cfg))
    return {key: [getattr(saved.engine, key.split(".")[1]), getattr(cfg.engine, key.split(".")[1])]
            for key in EXTENSIBLE if getattr(saved.engine, key.split(".")[1]) != getattr(cfg.engine, key.split(".")[1])}
