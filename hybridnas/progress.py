"""hybridnas' messages and progress bars: records of the ``hybridnas`` logger, shown on a console.

Every message goes through :mod:`logging`, so an API or notebook user decides where it goes:

- a :class:`Progress` hands each message, as a :class:`logging.LogRecord`, to the logger
  ``hybridnas`` (progress bars to ``hybridnas.progress``), where the user's own logging
  configuration applies (the package adds only a :class:`logging.NullHandler`: nothing is shown
  unless asked for);
- a :class:`Progress` that is not ``quiet`` also shows each message on its stream (stderr by
  default) through a :class:`ConsoleHandler`, in the format the CLI has always printed: the
  message alone, bars redrawn in place on a terminal and one line per update elsewhere;
- :meth:`Progress.log_file` adds a file (a run's ``search.log``) that receives every message of
  the session, whatever the logger's level, with a time stamp and level.

``hybridnas search`` and ``hybridnas train`` show messages unless ``--quiet``;
``hybridnas.search(progress=True)`` shows them too. Silence or redirect them with the logger:
``logging.getLogger("hybridnas").propagate = False``, or add a handler to it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, TextIO

LOGGER = logging.getLogger("hybridnas")
LOGGER.addHandler(logging.NullHandler())  # a library shows nothing unless the application asks
BAR_LOGGER = logging.getLogger("hybridnas.progress")

FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConsoleHandler(logging.StreamHandler):
    """Messages as the CLI prints them: the text alone; a progress bar's updates redrawn on one
    line of a terminal (``\\r``), one line each on a pipe or file."""

    def __init__(self, stream: Optional[TextIO] = None):
        super().__init__(stream or sys.stderr)
        self.setFormatter(_MessageOnly())
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._open = False  # a bar line is drawn and not yet ended

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if getattr(record, "hybridnas_bar", False) and self.tty:
                self.stream.write("\r" + text + "\x1b[K")
                self._open = True
            else:
                self.stream.write(("\n" if self._open else "") + text + "\n")
                self._open = False
            self.flush()
        except Exception:  # logging's convention: a failing handler reports, never raises
            self.handleError(record)

    def end_line(self) -> None:
        """End a bar drawn in place (the bar is finished)."""
        if self._open:
            self.stream.write("\n")
            self.flush()
            self._open = False


class _MessageOnly(logging.Formatter):
    """The message alone: a traceback attached to a record goes to the log file, not the console."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class _NotHandled(logging.Filter):
    """On the logger, a run's log file takes only the records its :class:`Progress` did not hand it
    already (messages logged directly with ``logging.getLogger("hybridnas...")``, or by another
    :class:`Progress`)."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        return self.handler not in getattr(record, "hybridnas_handled", ())


class _LogFile(logging.FileHandler):
    """A log file that stops quietly when it cannot be written (a full disk): the log is not the
    run's state, and the run store's own writes report the cause in one line."""

    def handleError(self, record: logging.LogRecord) -> None:
        self.setLevel(logging.CRITICAL + 1)


class Progress:
    """Where a command's messages and bars go (see the module docstring)."""

    def __init__(self, stream: Optional[TextIO] = None, quiet: bool = False):
        self.quiet = quiet
        self.stream = stream
        self.console: Optional[ConsoleHandler] = None if quiet else ConsoleHandler(stream)
        self.files: List[logging.Handler] = []
        self.notes: List[logging.LogRecord] = []  # said before a log file was open: the next one gets them

    def info(self, msg: str) -> None:
        self.emit(logging.INFO, msg)

    def warning(self, msg: str) -> None:
        self.emit(logging.WARNING, msg)

    def emit(self, level: int, msg: str, logger: logging.Logger = LOGGER, bar: bool = False, exc_info=None) -> None:
        """One message as a record of ``logger``: to this console and log files, then to the logger."""
        self._emit(level, msg, logger, bar, exc_info)

    def _emit(self, level: int, msg: str, logger: logging.Logger = LOGGER, bar: bool = False,
              exc_info=None) -> logging.LogRecord:
        record = logger.makeRecord(logger.name, level, __file__, 0, msg, None, exc_info, extra={"hybridnas_bar": bar})
        for h in ([self.console] if self.console is not None else []) + self.files:
            if level >= h.level:
                h.handle(record)
        record.hybridnas_handled = tuple(self.files)  # the logger's copy of a log file skips it
        if logger.isEnabledFor(level):  # the user's logging configuration decides the rest
            logger.handle(record)
        return record

    def note(self, level: int, msg: str, show: bool = False) -> None:
        """What a command says about a run before its log is open (a changed package version, lost records):
        like :meth:`emit` (with ``show``, on the console even when quiet), and kept for the next log file
        opened, the run's ``search.log``."""
        if show and self.console is None:
            Progress(self.stream).emit(level, msg)
            record = LOGGER.makeRecord(LOGGER.name, level, __file__, 0, msg, None, None)
        else:
            record = self._emit(level, msg)
        if not self.files:
            self.notes.append(record)

    def bar(self, label: str, total: int) -> "Bar":
        return Bar(self, label, total)

    @contextlib.contextmanager
    def log_file(self, path: Path) -> Iterator["LogFile"]:
        """Append every message to ``path`` while inside (a run's ``search.log``): this object's
        messages whatever the logger's level, and what others log to ``hybridnas`` meanwhile."""
        log = LogFile(self, Path(path))
        try:
            yield log
        finally:
            log.close()


class LogFile:
    """A log file a :class:`Progress` writes to (:meth:`Progress.log_file`)."""

    def __init__(self, progress: Progress, path: Path):
        self.progress, self.path = progress, path
        self.size = path.stat().st_size if path.exists() else None  # what the file held before
        self.handler = _LogFile(str(path), mode="a", encoding="utf-8", delay=True)
        self.handler.setFormatter(logging.Formatter(FILE_FORMAT))
        self.handler.addFilter(_NotHandled(self.handler))
        progress.files.append(self.handler)
        LOGGER.addHandler(self.handler)
        for record in progress.notes:  # what the command said about the run before it was open
            self.handler.handle(record)
        progress.notes = []

    def close(self) -> None:
        LOGGER.removeHandler(self.handler)
        if self.handler in self.progress.files:
            self.progress.files.remove(self.handler)
        self.handler.close()

    def discard(self) -> None:
        """Stop, and take back what this session wrote: input refused as bad leaves a run as it was."""
        self.close()
        try:
            if self.size is None:
                self.path.unlink()
            else:
                with open(self.path, "r+b") as f:
                    f.truncate(self.size)
        except OSError:
            pass


def say(msg: str, level: int = logging.INFO, logger: logging.Logger = LOGGER) -> None:
    """A message outside a command's :class:`Progress` (a download, a warning after a command): on stderr
    as the text alone, and a record of ``logger`` (which a run's log open meanwhile takes, as it takes
    whatever the logger passes on)."""
    Progress().emit(level, msg, logger)


class Bar:
    WIDTH = 24

    def __init__(self, progress: Progress, label: str, total: int):
        self.p = progress
        self.label = label
        self.total = max(int(total), 1)
        self.n = 0
        self.t0 = time.perf_counter()

    def update(self, n: int, note: str = "") -> None:
        self.n = n
        elapsed = time.perf_counter() - self.t0
        frac = min(n / self.total, 1.0)
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        filled = int(round(frac * self.WIDTH))
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {n}/{self.total} "
            f"{_fmt(elapsed)}<{_fmt(eta)} {note}"
        ).rstrip()
        self.p.emit(logging.INFO, line, logger=BAR_LOGGER, bar=True)

    def close(self) -> None:
        if self.p.console is not None:
            self.p.console.end_line()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(s: float) -> str:
    s = int(s)
    return f"{s // 60:d}:{s % 60:02d}" if s < 3600 else f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
