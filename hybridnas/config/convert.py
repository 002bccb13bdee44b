"""Plain data <-> the frozen config dataclasses, every key and type checked on the way in.

:func:`from_dict` builds a dataclass from what YAML gave, refusing unknown keys (with a
suggestion), missing required ones and values of the wrong type, one line each (see
:class:`~hybridnas.config.source.Checks`). A section class may accept a shorter form than its
fields: it defines a classmethod ``expand(value, key, ck)`` returning the mapping the fields are
read from (``block.strategy: egs`` is ``{name: egs, options: {}}``,
:meth:`~hybridnas.config.schema.StrategyConfig.expand`). :func:`to_dict` goes back to plain data.
Paths in the data are made absolute here too (:func:`absolute_data_path`), before conversion.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import math
import typing
from pathlib import Path
from typing import Any, Dict, Literal, Mapping, Optional, Sequence, Union

import yaml

from .schema import RunConfig
from .source import Checks, describe


def text_problem(text: str) -> Optional[str]:
    """Why ``text`` cannot be a setting (a path, a name), or ``None``: a NUL byte, or characters
    UTF-8 cannot encode (lone surrogates, as YAML's ``\\ud800`` escapes give)."""
    if "\0" in text:
        return "holds a NUL byte"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "holds characters UTF-8 cannot encode (lone surrogates)"
    return None


def _absolute(p: str, base: Path) -> Path:
    """``p`` with ``~`` expanded, relative to ``base`` unless absolute."""
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q).resolve()


def with_absolute_path(part: Dict[str, Any], base: Path) -> Dict[str, Any]:
    """A section's ``path`` made absolute against ``base``."""
    if isinstance(part.get("path"), str) and part["path"] and text_problem(part["path"]) is None:
        return {**part, "path": str(_absolute(part["path"], base))}
    return part  # a path no file can have is refused, naming its key, when the section is read


def absolute_data_path(data: Dict[str, Any]) -> Dict[str, Any]:
    """``data.path`` made absolute against the working directory: a path given on the command
    line (the space file's own are already absolute), so a run resumes from any folder."""
    part = data.get("data")
    return {**data, "data": with_absolute_path(part, Path.cwd())} if isinstance(part, dict) else data


def _convert(tp: Any, value: Any, key: str, ck: Checks) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, key, ck)
    if origin is Literal:
        if value not in args:
            ck.bad(key, f"must be one of {', '.join(map(str, args))}, got {describe(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        expand = getattr(tp, "expand", None)  # a section written in a shorter form
        return from_dict(tp, expand(value, key, ck) if expand else value, source=ck.source, prefix=key)
    if origin in (tuple, list, Sequence):
        if value is None:
            ck.bad(key, "must be a list, got nothing")
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            value = [value]
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                ck.bad(key, f"must be a list of {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]", ck) for i, (a, v) in enumerate(zip(args, value)))
        inner = args[0] if args else Any
        return tuple(_convert(inner, v, f"{key}[{i}]", ck) for i, v in enumerate(value))
    if origin in (dict, Mapping, typing.Mapping, collections.abc.Mapping) or tp in (dict, Mapping):
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            ck.bad(key, f"must be a mapping, got {describe(value)}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        ck.bad(key, f"must be true or false, got {describe(value)}")
    if tp is int:
        return _integer(value, key, ck)
    if tp is float:
        return _number(value, key, ck)
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            problem = text_problem(str(value))
            if problem:
                ck.bad(key, f"{problem}: {describe(value)}; write plain text")
            return str(value)
        ck.bad(key, f"must be a string, got {describe(value)}")
    return value


def _integer(value: Any, key: str, ck: Checks) -> int:
    if isinstance(value, bool):
        ck.bad(key, f"must be an integer, got {describe(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            f = float(value)
            if f.is_integer():
                return int(f)
        except ValueError:
            pass
    ck.bad(key, f"must be an integer, got {describe(value)}")


def _number(value: Any, key: str, ck: Checks) -> float:
    if isinstance(value, bool):
        ck.bad(key, f"must be a number, got {describe(value)}")
    number = None
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e308 else math.inf
    elif isinstance(value, str):  # PyYAML reads 1e6 as a string
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None:
        ck.bad(key, f"must be a number, got {describe(value)}")
    if not math.isfinite(number):  # NaN or infinity: no setting means either
        ck.bad(key, f"must be a finite number, got {describe(value)}; give a real value")
    return number


def from_dict(cls: type, data: Any, source: str = "config", prefix: str = ""):
    """Build the frozen dataclass ``cls`` from plain data, checking every key and type."""
    ck = Checks(source)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        ck.bad(prefix or "<top>", f"must be a mapping, got {describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in data:
        if k not in fields:
            full = f"{prefix}.{k}" if prefix else str(k)
            close = difflib.get_close_matches(str(k), list(fields), n=1)
            ck.unknown(full, f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        full = f"{prefix}.{name}" if prefix else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], full, ck)
        elif f.metadata.get("required") and f.metadata.get("unless") not in data:
            ck.missing(full)
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) for YAML/JSON output."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    return obj


def dump_yaml(cfg: RunConfig) -> str:
    """The resolved config as the YAML a run saves (``config.yaml``)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None)


def replace(cfg: RunConfig, **sections) -> RunConfig:
    """``cfg`` with whole sections replaced."""
    return dataclasses.replace(cfg, **sections)
