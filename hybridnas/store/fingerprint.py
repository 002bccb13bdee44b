"""A run's fingerprint, ``fingerprint.json``: what its results depend on, written when the run is made.

Three parts:

- ``config``: every config key that changes what the search computes, flattened to dotted keys
  (``network.widths``), except those in :data:`UNCOMPARED` (below, each with its reason);
- ``data``: what the search trained on - the raw arrays' shapes, dtypes and sha256 (as the source
  read them, before splitting and normalising, so the hash does not move with numpy's float
  reductions), the image size and split sizes; a tabular space's table by its sha256;
- ``versions``: hybridnas, torch, pymoo and numpy.

``hybridnas search --resume`` compares the run as it is now with its fingerprint before it writes
anything (:func:`compare_config` as the config is read, :func:`compare_data` once the data is
loaded) and refuses a mismatch in one line naming what changed and what to do. A changed version
is a warning (:func:`version_warning`), not a refusal: the records already made stay measurements
of the same networks on the same data, and a refusal would strand a run after every upgrade.
A run made before fingerprints existed gets one on its next resume, with a note.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ..core.version import __version__
from ..errors import UserError
from .layout import CONFIG, FINGERPRINT

if TYPE_CHECKING:
    from ..config import RunConfig

FINGERPRINT_VERSION = 1

# Config keys (and everything under them) a resume may differ in: none of them changes what the
# search computes. The one list; docs/reliability.md ("A resume checks the run") repeats it.
UNCOMPARED = {
    "engine.generations": "a resume may raise it to extend the search (pipeline.EXTENSIBLE)",
    "engine.evaluations": "a resume may raise or remove it to extend the search (pipeline.EXTENSIBLE)",
    "name": "the run's label",
    "device": "where it runs: a run may be resumed on another machine (the manifest records the device)",
    "threads": "how many torch threads train",
    "deterministic": "whether torch may pick faster, non-reproducible kernels",
    "evaluation.workers": "how many candidates train at once",
    "evaluation.ray": "where Ray runs the trainings",
    "evaluation.keep_weights": "which trained weights are kept, not what is measured",
    "data.path": "where the data is found: the data itself is compared by its hash",
    "data.download": "whether missing files are fetched",
    "table.path": "where the table is found: the table itself is compared by its hash",
    "train": "the defaults of 'hybridnas train', which runs after the search",
}

VERSIONED = ("hybridnas", "torch", "pymoo", "numpy")


def _uncompared(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in UNCOMPARED)


def _flatten(d: Any, prefix: str = "") -> Dict[str, Any]:
    if isinstance(d, dict) and d:
        out: Dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def config_part(cfg: RunConfig) -> Dict[str, Any]:
    """The compared keys of ``cfg`` as ``{dotted key: value}`` (JSON values: tuples are lists)."""
    from ..config import to_dict
    from .run import dumps

    flat = json.loads(dumps(_flatten(to_dict(cfg)), indent=None))
    return {k: v for k, v in sorted(flat.items()) if not _uncompared(k)}


def data_part(cfg: RunConfig, data) -> Optional[Dict[str, Any]]:
    """What the search trains on (``data``: the loaded :class:`~hybridnas.data.Dataset`); a
    tabular space's table; ``None`` when neither is known."""
    if cfg.tabular:
        from ..space.table import load_table

        return {"table_sha256": load_table(cfg).sha256}
    if data is None:
        return None
    return {  # not its name: an .npz is named after its file
        "source": dict(data.source or {}),
        "image_size": list(data.image_size),
        "in_chans": data.in_chans,
        "num_classes": data.num_classes,
        "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
    }


def versions() -> Dict[str, Optional[str]]:
    from importlib.metadata import PackageNotFoundError, version

    out: Dict[str, Optional[str]] = {"hybridnas": __version__}
    for pkg in VERSIONED[1:]:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def make(cfg: RunConfig, data) -> Dict[str, Any]:
    return {
        "fingerprint_version": FINGERPRINT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config_part(cfg),
        "data": data_part(cfg, data),
        "versions": versions(),
    }


def read(store) -> Optional[Dict[str, Any]]:
    """The run's fingerprint, ``None`` for a run made before fingerprints existed."""
    return store.read_json(FINGERPRINT, default=None,
                           fix="delete it: the next resume writes a new one from the run's config and data")


_ABSENT = object()  # a key one side lacks


def _show(v: Any, width: int = 60) -> str:
    text = "absent" if v is _ABSENT else json.dumps(v)
    return text if len(text) <= width else text[: width - 3] + "..."


def config_changes(saved: Dict[str, Any], now: Dict[str, Any], new_keys_ok: bool) -> List[Tuple[str, Any, Any]]:
    """``(key, value in the fingerprint, value now)`` for each compared key that differs.
    ``new_keys_ok``: a key the fingerprint lacks is a key a later hybridnas added (its default
    keeps the old behaviour), not a change."""
    out = []
    for key in sorted(set(saved) | set(now)):
        if _uncompared(key) or (new_keys_ok and key not in saved):
            continue
        a, b = saved.get(key, _ABSENT), now.get(key, _ABSENT)
        if (a is _ABSENT) != (b is _ABSENT) or json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            out.append((key, a, b))
    return out


def compare_config(store, cfg: RunConfig, fingerprint: Dict[str, Any]) -> None:
    """Refuse (a :class:`UserError`) a resume whose config differs from the fingerprint's in a
    compared key, naming the keys and their values then and now."""
    new_keys_ok = (fingerprint.get("versions") or {}).get("hybridnas") != versions()["hybridnas"]
    changes = config_changes(fingerprint.get("config") or {}, config_part(cfg), new_keys_ok)
    if not changes:
        return
    fix = (f"restore {'it' if len(changes) == 1 else 'them'} in {store.path(CONFIG)}, or start a new run "
           "with --name (a resume may change only engine.generations and engine.evaluations, with --set)")
    if len(changes) > 3:
        top = sorted({k.split(".")[0] for k, _, _ in changes})
        names = ", ".join(top[:4]) + (f" and {len(top) - 4} more sections" if len(top) > 4 else "")
        k, a, b = next((c for c in changes if _ABSENT not in c[1:]), changes[0])  # a key both have, if any
        raise UserError(f"{CONFIG} differs from the run's fingerprint in {len(changes)} keys (under {names}; "
                        f"e.g. {k}: {_show(a, 30)} when the run was made, now {_show(b, 30)}): {fix}")
    keys = " and ".join(k for k, _, _ in changes)
    what = "; ".join(f"{k}: {_show(a)} when the run was made, now {_show(b)}" for k, a, b in changes)
    raise UserError(f"{CONFIG}'s {keys} {'differs' if len(changes) == 1 else 'differ'} from the run's "
                    f"fingerprint ({what}): {fix}")


def _shape(part: Dict[str, Any]) -> str:
    size = "x".join(str(v) for v in part.get("image_size") or ())
    return f"{part.get('in_chans', '?')}x{size}, {part.get('num_classes', '?')} classes"


def compare_data(store, cfg: RunConfig, fingerprint: Dict[str, Any], now: Dict[str, Any]) -> None:
    """Refuse a resume whose data (or table) is not the data the run was made with; ``now``: the
    fingerprint of the run as it is (:func:`make`)."""
    saved, now = fingerprint.get("data"), now.get("data")
    if saved is None or now is None or saved == now:
        return
    if "table_sha256" in saved or "table_sha256" in now:
        raise UserError(f"table {getattr(cfg.table, 'path', '')} changed since run '{store.root}' started (sha256 "
                        f"{str(now.get('table_sha256'))[:12]} now, {str(saved.get('table_sha256'))[:12]} then): "
                        "restore the table the run was made with, or start a new run with --name")
    where = f"the data at {cfg.data.path}" if cfg.data.path else f"the data of data.dataset '{cfg.data.dataset}'"
    if _shape(saved) != _shape(now):
        what = f"images {_shape(now)} now, {_shape(saved)} when the run was made"
    elif saved.get("source") != now.get("source"):
        a, b = (str((p.get("source") or {}).get("sha256"))[:12] for p in (now, saved))
        what = f"sha256 {a} now, {b} when the run was made"
    else:
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        what = ", ".join(f"{k} {_show(now.get(k), 40)} now, {_show(saved.get(k), 40)} then" for k in diff)
    raise UserError(f"{where} differs from the run's fingerprint ({what}): restore the data the run was made "
                    "with, or start a new run with --name")


def version_warning(fingerprint: Dict[str, Any]) -> Optional[str]:
    """One line when hybridnas, torch, pymoo or numpy changed since the run was made."""
    saved, now = fingerprint.get("versions") or {}, versions()
    changed = [f"{k} {saved[k]} -> {now.get(k)}" for k in VERSIONED if k in saved and saved[k] != now.get(k)]
    if not changed:
        return None
    return (f"{', '.join(changed)} since the run was made; resuming anyway: its records stay measurements of the "
            "same networks on the same data, but new trainings may differ from the old in the last digits and "
            "replayed generations may propose other networks, which are then trained")
