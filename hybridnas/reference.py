"""The space-file reference, read from the configuration dataclasses themselves.

Every key a space file (or ``--set``) accepts is a field of :class:`~hybridnas.config.RunConfig`
or of a section dataclass below it; each field's documentation is the string literal written on
the line after it (an *attribute docstring*, the convention mkdocstrings and pydantic use).
:func:`space_keys` walks the dataclasses into the dotted key paths users type
(``evaluation.fidelity.budgets``), with type, default and whether the key is required;
``docs/gen_pages.py`` renders them as the reference page, and a test fails when a field has no
documentation, so the page cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional


@dataclass(frozen=True)
class KeyDoc:
    key: str  # dotted path as --set takes it
    type: str  # readable type
    default: Any  # dataclasses.MISSING when there is none
    required: bool
    unless: Optional[str]  # not required when this sibling key is set
    doc: str  # the attribute docstring ("" when missing)
    section: bool  # a nested section (a dataclass), not a leaf value


@lru_cache(maxsize=None)
def attribute_docs(cls: type) -> Dict[str, str]:
    """``{field name: docstring}`` of a dataclass, from the string literal after each field."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0].body
    docs: Dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def type_name(tp: Any) -> str:
    """A short, readable name of a field's type (``list of float``, ``int or none``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "none"
    if origin is typing.Union:
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(repr(a) if isinstance(a, str) else str(a) for a in args)
    if origin in (tuple, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        if args and all(a == args[0] for a in args):
            return f"[{', '.join(type_name(a) for a in args)}]"
        return "list"
    if origin in (dict, typing.Mapping) or tp in (dict, typing.Mapping) or getattr(origin, "__name__", "") == "Mapping":
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "section"
    return getattr(tp, "__name__", str(tp))


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
        return dataclasses.MISSING if dataclasses.is_dataclass(value) else value
    return dataclasses.MISSING


def _section_type(tp: Any) -> Optional[type]:
    """The dataclass a field holds (through ``Optional``), or None for a value."""
    if typing.get_origin(tp) is typing.Union:
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = inner[0] if len(inner) == 1 else None
    return tp if dataclasses.is_dataclass(tp) else None


def space_keys(cls: Optional[type] = None, prefix: str = "") -> List[KeyDoc]:
    """Every key of the space file, depth first in declaration order (sections before their keys)."""
    if cls is None:
        from .config import RunConfig

        cls = RunConfig
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    out: List[KeyDoc] = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        section = _section_type(tp)
        out.append(KeyDoc(key, "section" if section else type_name(tp), _default(f),
                          bool(f.metadata.get("required")), f.metadata.get("unless"),
                          docs.get(f.name, ""), section is not None))
        if section is not None:
            out.extend(space_keys(section, prefix=f"{key}."))
    return out


def undocumented() -> List[str]:
    """Keys whose field has no attribute docstring (the test of the reference page)."""
    return [k.key for k in space_keys() if not k.doc.strip()]
