"""A run directory, ``runs/<name>/``: the only place a search keeps state.

Writes are atomic: whole files go to a temporary sibling, are flushed to disk and renamed over
the target (:func:`atomic_write`); records are appended to JSON-lines files as one ``write`` of
a complete line with ``O_APPEND``, and a line cut short by a kill is dropped on the next open.
Nothing is pickled: JSON, CSV, YAML, and tensors through ``torch.save`` of plain state dicts
read back with ``weights_only=True``.

One process writes a run at a time: :meth:`RunStore.lock` creates ``.lock`` exclusively and a lock
whose process is gone is taken over. Whoever takes the lock removes the temporary files a killed
writer left behind (:func:`sweep_temporaries`); they never held anything a reader could see.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

from ..core.version import __version__
from ..errors import UserError
from .layout import LOCK, MANIFEST

FORMAT_VERSION = 1
COMPATIBLE_FORMATS = (1,)

# Write failures that come from the machine, not from hybridnas: reported in one line, no traceback.
ENVIRONMENT_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error",
}


class WriteFailed(UserError):
    """A write failed for a reason outside hybridnas (disk full, quota, read-only, permissions).

    The file written is left as it was (an atomic write) or cut at a line the next open drops
    (an append), so the run stays readable; ``then`` is how to carry on once the cause is fixed.
    """

    def __init__(self, path: Path, reason: str, then: str = "run the command again"):
        self.path, self.reason = Path(path), reason
        super().__init__(f"cannot write '{path}': {reason}; free space (or fix the permissions) and {then}")

    def then(self, how: str) -> "WriteFailed":
        return WriteFailed(self.path, self.reason, how)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an environment failure of the writes inside into :class:`WriteFailed` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRORS:
            raise
        raise WriteFailed(path, ENVIRONMENT_ERRORS[exc.errno]) from None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()  # the mode open() gives a new file
_DIR_MODE = 0o777 & ~_umask()  # and mkdir() a new folder


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    A failed write (a full disk) removes its temporary file and leaves the old file in place.
    """
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
        try:
            os.fchmod(fd, _FILE_MODE)  # mkstemp makes it private; a run's files are ordinary files
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    _fsync_dir(path.parent)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine is running (a zombie, killed but not yet reaped,
    is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


# what atomic_write's mkstemp names look like: ".<name>.<8 random chars>.tmp"
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
_WRITE_TEST = re.compile(r"^\.write-test-(\d+)$")


def sweep_temporaries(root: Path) -> List[Path]:
    """Remove the temporary files of writes cut short by a kill under ``root``; return them.

    Call it holding ``root``'s lock. A folder with its own ``.lock`` belongs to another writer
    (a model being trained in ``trained/<id>``) and hidden folders are staging areas (an export
    being assembled), so neither is entered. A ``.write-test-<pid>`` probe goes only when its
    process is gone.
    """
    removed: List[Path] = []
    root = Path(root)
    for here, dirs, files in os.walk(root):
        base = Path(here)
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (base / d / LOCK).exists()]
        for name in files:
            probe = _WRITE_TEST.match(name)
            stale = bool(_TEMPORARY.match(name)) or (probe is not None and not process_alive(int(probe.group(1))))
            if stale:
                try:
                    (base / name).unlink()
                    removed.append(base / name)
                except FileNotFoundError:
                    pass
    return removed


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())


def staging_folder(folder: Path) -> Path:
    """A new, empty hidden folder beside ``folder`` to assemble it in before moving it into place.

    Its name carries this process's pid and host (``.<name>.<pid>@<host>.<random>.tmp``), so
    staging folders left by a killed process on this machine are recognised and removed here;
    those of a live process (an export running beside this one) or of another machine are kept.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    mine = re.compile(rf"^\.{re.escape(folder.name)}\.(\d+)@{re.escape(_host_tag())}\.[^/]*\.tmp$")
    for old in folder.parent.iterdir():
        m = mine.match(old.name)
        if m and old.is_dir() and not process_alive(int(m.group(1))):
            shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}@{_host_tag()}.", suffix=".tmp",
                                  dir=str(folder.parent)))
    stage.chmod(_DIR_MODE)  # mkdtemp makes it private; what is assembled is an ordinary folder
    return stage


def _json_default(o):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj: Any, indent: Optional[int] = 2) -> str:
    return json.dumps(obj, indent=indent, default=_json_default, allow_nan=True)


class RunStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock_held = False
        self.cut: Dict[str, int] = {}  # JSON-lines file -> number of its last line, found cut short by records()

    # ------------------------------------------------------------------ paths

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    @property
    def name(self) -> str:
        return self.root.name

    # ------------------------------------------------------------------ opening

    @classmethod
    def open_existing(cls, root: Path) -> "RunStore":
        """Open a run for reading; refuse a missing or incompatible one with a clear message."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise UserError(f"'{root}' is a file, not a run directory; give the path of a run's folder "
                            "(e.g. runs/digits)")
        if not root.is_dir():
            raise UserError(f"run directory '{root}' does not exist; give the path of a run (e.g. runs/digits)")
        store = cls(root)
        if not store.exists(MANIFEST):
            raise UserError(f"'{root}' is not a hybridnas run (no {MANIFEST}); give the path of a run directory")
        store.check_format()
        return store

    def check_format(self) -> None:
        manifest = self.read_json(MANIFEST, fix="restore it from a backup or start a new run (it records the "
                                  "run's format and versions, so it cannot be rebuilt)")
        fmt = manifest.get("format_version")
        if fmt not in COMPATIBLE_FORMATS:
            raise UserError(
                f"run '{self.root}' was written by hybridnas {manifest.get('hybridnas', '?')} "
                f"(run format {fmt}); this hybridnas {__version__} reads formats "
                f"{', '.join(map(str, COMPATIBLE_FORMATS))}; use a matching version or start a new run"
            )

    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UserError(
                f"cannot write to run directory '{self.root}' ({exc.strerror}); "
                "choose another --out or fix its permissions"
            ) from None

    # ------------------------------------------------------------------ lock

    def lock(self, then: str = "resume") -> None:
        """Take ``.lock``; ``then`` ends the refusal while another process holds it ("wait for it
        to finish or stop it, then <then>")."""
        lock = self.path(LOCK)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                with writing(lock):
                    fd = os.open(str(lock), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read_lock(lock)
                if holder and self._alive(holder):
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
                    raise UserError(
                        f"run '{self.root}' is in use by process {holder.get('pid')} on {holder.get('host')} "
                        f"(since {since}); wait for it to finish or stop it, then {then}"
                    ) from None
                try:  # stale: its process is gone (or the file is unreadable); take it over
                    lock.unlink()
                except FileNotFoundError:
                    pass
                continue
            with writing(lock), os.fdopen(fd, "w") as f:
                f.write(json.dumps(me))
            self._lock_held = True
            sweep_temporaries(self.root)
            return
        raise UserError(f"could not take the lock of run '{self.root}'; remove {lock} if no search is running")

    @contextlib.contextmanager
    def holding(self, then: str) -> Iterator[None]:
        """Hold the lock for the writes inside, unless this store holds it already (a search
        writing its own picks); ``then``: as for :meth:`lock`."""
        if self._lock_held:
            yield
            return
        self.lock(then)
        try:
            yield
        finally:
            self.unlock()

    @staticmethod
    def _read_lock(lock: Path) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(lock.read_text())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _alive(holder: Dict[str, Any]) -> bool:
        if holder.get("host") != socket.gethostname():
            return True  # cannot check another machine's processes: assume it is alive
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid <= 0:
            return False
        if pid == os.getpid():
            return False
        return process_alive(pid)

    def unlock(self) -> None:
        if self._lock_held:
            holder = self._read_lock(self.path(LOCK))
            if holder and holder.get("pid") == os.getpid():
                try:
                    self.path(LOCK).unlink()
                except FileNotFoundError:
                    pass
            self._lock_held = False

    # ------------------------------------------------------------------ whole files

    def write_bytes(self, rel: str, data: bytes) -> Path:
        p = self.path(rel)
        atomic_write(p, data)
        return p

    def write_text(self, rel: str, text: str) -> Path:
        return self.write_bytes(rel, text.encode())

    def write_json(self, rel: str, obj: Any) -> Path:
        return self.write_text(rel, dumps(obj) + "\n")

    def read_json(self, rel: str, default: Any = ...,
                  fix: str = "delete it to have it rebuilt on resume, or start a new run") -> Any:
        """A JSON file of the run; ``fix`` is what the error for a corrupted one tells the user to do."""
        p = self.path(rel)
        try:
            text = p.read_text()
        except FileNotFoundError:
            if default is not ...:
                return default
            raise UserError(f"run file '{p}' is missing; the run is incomplete - "
                            "resume it or start a new one") from None
        try:
            return json.loads(text)
        except ValueError:
            raise UserError(f"run file '{p}' is corrupted (not valid JSON); {fix}") from None

    def save_tensors(self, rel: str, state: Dict[str, Any]) -> Path:
        import torch

        buf = io.BytesIO()
        torch.save(state, buf)
        return self.write_bytes(rel, buf.getvalue())

    def load_tensors(self, rel: str, map_location="cpu", fix: str = "delete it and resume") -> Dict[str, Any]:
        """Tensors saved by :meth:`save_tensors`, loaded with ``weights_only=True`` (no code runs)."""
        import torch

        p = self.path(rel)
        try:
            return torch.load(p, map_location=map_location, weights_only=True)
        except FileNotFoundError:
            raise UserError(f"run file '{p}' is missing; resume the search to rebuild it") from None
        except Exception as exc:  # torch raises several types for a damaged file
            raise UserError(f"run file '{p}' is corrupted or not a tensor file ({type(exc).__name__}); {fix}") from None

    # ------------------------------------------------------------------ records (JSON lines)

    def append(self, rel: str, record: Dict[str, Any]) -> None:
        """Append one record as a single complete line (one ``write`` with ``O_APPEND``)."""
        p = self.path(rel)
        line = (dumps(record, indent=None) + "\n").encode()
        with writing(p):
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(str(p), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, line)
                if written != len(line):  # a full disk can take part of a line: the next open drops it
                    raise OSError(errno.ENOSPC, f"short write to {p}")
                os.fsync(fd)
            finally:
                os.close(fd)

    def repair(self, rel: str) -> int:
        """Drop a trailing line left incomplete by a kill; returns how many bytes were cut."""
        p = self.path(rel)
        if not p.exists():
            return 0
        data = p.read_bytes()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        with open(p, "r+b") as f:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        return len(data) - keep

    def records(self, rel: str) -> List[Dict[str, Any]]:
        """The records of a JSON-lines file; a last line cut short (a kill, or a file cut) is
        left out and its number kept in ``cut[rel]``."""
        p = self.path(rel)
        self.cut.pop(rel, None)
        if not p.exists():
            return []
        out = []
        lines = p.read_bytes().split(b"\n")
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                out.append(json.loads(raw))
            except ValueError:
                if n == len(lines):  # the last line has no newline: cut short by a kill
                    self.cut[rel] = n
                    break
                raise UserError(
                    f"run file '{p}' is corrupted at line {n}; remove that line (or the file) and resume"
                ) from None
        return out

    def extend(self, rel: str, records: Iterable[Dict[str, Any]]) -> None:
        for r in records:
            self.append(rel, r)

