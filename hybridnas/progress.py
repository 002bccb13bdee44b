"""Progress bars and messages on stderr (plain lines when stderr is not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    def __init__(self, stream: Optional[TextIO] = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def info(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=self.stream, flush=True)

    def bar(self, label: str, total: int) -> "Bar":
        return Bar(self, label, total)


class Bar:
    WIDTH = 24

    def __init__(self, progress: Progress, label: str, total: int):
        self.p = progress
        self.label = label
        self.total = max(int(total), 1)
        self.n = 0
        self.t0 = time.perf_counter()
        self._open = False

    def update(self, n: int, note: str = "") -> None:
        self.n = n
        if self.p.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        frac = min(n / self.total, 1.0)
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        filled = int(round(frac * self.WIDTH))
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {n}/{self.total} "
            f"{_fmt(elapsed)}<{_fmt(eta)} {note}"
        ).rstrip()
        if self.p.tty:
            print("\r" + line + "\x1b[K", end="", file=self.p.stream, flush=True)
            self._open = True
        else:
            print(line, file=self.p.stream, flush=True)

    def close(self) -> None:
        if self._open:
            print(file=self.p.stream, flush=True)
            self._open = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(s: float) -> str:
    s = int(s)
    return f"{s // 60:d}:{s % 60:02d}" if s < 3600 else f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
