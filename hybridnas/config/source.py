"""Where a config came from, and the one way its problems are said.

A problem with a config is one :class:`~hybridnas.errors.UserError` line naming the key and its
origin: the space file, or the ``--set KEY=VALUE`` that gave the key (:class:`Source`).
:class:`Checks` owns every such line - the conversion's type errors, the loader's missing keys
and the range checks alike.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import yaml

from ..errors import UserError


def parse_override(text: str) -> Tuple[List[str], Any]:
    """``KEY=VALUE`` (``--set``) as the key's path and the value read as YAML."""
    if "=" not in text:
        raise UserError(f"--set '{text}' is not key=value; write e.g. --set engine.generations=5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise UserError(f"--set '{text}' has an empty key; write e.g. --set engine.generations=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


class Source(str):
    """Where a config came from (the space file's path, as a string), and the keys ``--set``
    gave: a problem with one of those is reported as ``--set KEY=VALUE: ...``, not as the file's."""

    def __new__(cls, path: str, overrides: Sequence[str] = ()):
        self = super().__new__(cls, path)
        self.sets = {".".join(parse_override(text)[0]): text for text in overrides}
        return self

    def of(self, key: str) -> str:
        """What to name for ``key``: the last ``--set`` of it, of a section holding it or of a key
        inside it (``network.widths[0]`` is ``--set network.widths=...``), else the file."""
        bare = key.split("[", 1)[0].split(" ", 1)[0]
        hits = [text for k, text in self.sets.items()
                if k == bare or k.startswith(bare + ".") or bare.startswith(k + ".")]
        return f"--set {hits[-1]}" if hits else str(self)


def where(source: str, key: str) -> str:
    """The origin to name in an error about ``key`` (see :class:`Source`)."""
    return source.of(key) if isinstance(source, Source) else str(source)


def describe(v: Any) -> str:
    """A value as an error message shows it (a mapping or list by its type only)."""
    return repr(v) if not isinstance(v, (dict, list)) else type(v).__name__


class Checks:
    """The errors of a config, one :class:`UserError` line each naming the key (and ``--set``
    when the value came from there, see :class:`Source`) and what to give instead. ``prefix`` is
    put before every key (``train.`` for the checks of a ``train`` section). NaN fails every
    comparison, so it fails every range check here too."""

    def __init__(self, source: str = "config", prefix: str = ""):
        self.source, self.prefix = source, prefix

    def bad(self, key: str, msg: str):
        """Refuse the value of ``key``: ``ORIGIN: 'KEY' MSG``."""
        full = self.prefix + key
        raise UserError(f"{where(self.source, full)}: '{full}' {msg}")

    def unknown(self, key: str, hint: str):
        """Refuse a key no section has."""
        full = self.prefix + key
        raise UserError(f"{where(self.source, full)}: unknown key '{full}'; {hint}")

    def missing(self, key: str, in_file: bool = False):
        """Refuse a config without the required ``key`` (named as the file's when ``in_file``:
        a whole section or a key the space itself must set)."""
        full = self.prefix + key
        origin = str(self.source) if in_file else where(self.source, full)
        raise UserError(f"{origin}: required key '{full}' is missing; add it to the space file")

    def positive(self, key: str, v, allow_zero: bool = False) -> None:
        """``v`` > 0 (>= 0 with ``allow_zero``); ``None`` (a key left unset) passes."""
        if v is not None and not (v > 0 or (allow_zero and v == 0)):
            self.bad(key, f"must be {'>= 0' if allow_zero else '> 0'}, got {v}")

    def within(self, key: str, v, lo: float, hi: float, hi_open: bool = False, lo_open: bool = False,
               why: str = "") -> None:
        """``lo <= v <= hi`` (a bound strict where ``*_open``); ``None`` passes."""
        if v is None or ((lo < v if lo_open else lo <= v) and (v < hi if hi_open else v <= hi)):
            return
        self.bad(key, f"must be in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}{why}, got {v}")

    def at_most(self, key: str, v, limit: int, what: str) -> None:
        """``v <= limit``, the most that ``what`` allows (a bound from the space or the data)."""
        if v is not None and v > limit:
            self.bad(key, f"is {v:,} but {what}; lower it to at most {limit:,}")
