"""Callbacks: user code the search calls as it goes (``hybridnas.search(..., callbacks=[...])``).

A callback subclasses :class:`Callback` and fills in the methods it needs (the others do
nothing), in the shape of pymoo's ``Callback.notify`` and Optuna's ``callback(study, trial)``:
the run first, then what just happened. The search calls, in order:

1. ``on_start(run)`` once the run directory holds its config (a :class:`hybridnas.Run`, so
   ``run.path``, ``run.config``, ``run.front`` and ``run.records`` read the run as it stands);
2. ``on_evaluation(run, record)`` after each evaluation, with the record exactly as appended to
   ``evaluations.jsonl`` (a failed one has ``status`` other than ``"ok"`` and a ``reason``);
3. ``on_generation(run, summary)`` after each generation (or surrogate batch), with the summary
   written to ``generations/gen_NNN.json`` once the front of that generation is written too;
4. ``on_end(run, summary)`` when the search has finished, with ``summary.json``'s content;
5. ``close()`` last, whether the search finished, failed or was stopped.

A resumed search calls ``on_evaluation`` and ``on_generation`` only for what this session adds:
evaluations and generations replayed from the run directory were reported when they were made.

**Errors.** An exception in a callback does not stop the search: it is logged (as an error of
the ``hybridnas`` logger, with its traceback, and in the run's ``search.log``), and that
callback is called no more in this session; the other callbacks go on. To stop the search on
purpose, raise :class:`StopSearch`: the run keeps everything evaluated so far and resumes with
``hybridnas search --resume RUN`` (``hybridnas.search`` returns the :class:`hybridnas.Run`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional

from .errors import UserError
from .run import Run

LOG = logging.getLogger("hybridnas.callbacks")


class StopSearch(Exception):
    """Raised by a callback to stop the search; the run stays resumable."""


class Callback:
    """Base class: every method does nothing until a subclass fills it in (see the module docstring)."""

    def on_start(self, run) -> None:
        pass

    def on_evaluation(self, run, record: Dict[str, Any]) -> None:
        pass

    def on_generation(self, run, summary: Dict[str, Any]) -> None:
        pass

    def on_end(self, run, summary: Dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class Callbacks:
    """The callbacks of one search session: calls each in turn, with the errors rule of the module
    docstring. The search owns one of these; with none given it calls nothing."""

    def __init__(self, callbacks: Iterable[Callback] = (), progress=None):
        self.callbacks: List[Callback] = list(callbacks or ())
        for c in self.callbacks:
            if not isinstance(c, Callback):
                raise UserError(f"callback {c!r} is not a hybridnas.callbacks.Callback; subclass it and fill in "
                                "on_evaluation / on_generation / on_end")
        self.progress = progress
        self.run = None

    def __bool__(self) -> bool:
        return bool(self.callbacks)

    def _call(self, method: str, *args) -> None:
        for c in list(self.callbacks):
            try:
                getattr(c, method)(self.run, *args)
            except StopSearch:
                raise
            except Exception as exc:  # a user's callback must not end a long search
                self.callbacks.remove(c)
                msg = (f"callback {type(c).__name__}.{method} failed ({type(exc).__name__}: {exc}); "
                       "it is called no more in this session, the search goes on")
                self._log(msg, exc_info=True)
                self._close(c)

    def start(self, store) -> None:
        if not self.callbacks:
            return
        self.run = Run(store)
        self._call("on_start")

    def evaluation(self, record: Dict[str, Any]) -> None:
        if self.callbacks:
            self._call("on_evaluation", record)

    def generation(self, summary: Dict[str, Any]) -> None:
        if self.callbacks:
            self._call("on_generation", summary)

    def end(self, summary: Dict[str, Any]) -> None:
        if self.callbacks:
            self._call("on_end", summary)

    def close(self) -> None:
        for c in self.callbacks:
            self._close(c)
        self.callbacks = []

    def _close(self, c: Callback) -> None:
        try:
            c.close()
        except Exception as exc:
            self._log(f"callback {type(c).__name__}.close failed ({type(exc).__name__}: {exc})", exc_info=True)

    def _log(self, msg: str, exc_info=None) -> None:
        """An error on the console (one line) and, with its traceback, in the log file and the logger."""
        import sys

        info = sys.exc_info() if exc_info else None
        if self.progress is not None:
            self.progress.emit(logging.ERROR, msg, logger=LOG, exc_info=info)
        else:
            LOG.error(msg, exc_info=info)


def resolve(callbacks: Optional[Iterable[Callback]], progress=None) -> Callbacks:
    """A :class:`Callbacks` from what the caller gave (None, a list, or one already built)."""
    if isinstance(callbacks, Callbacks):
        if progress is not None:
            callbacks.progress = progress
        return callbacks
    return Callbacks(callbacks or (), progress)
