"""The space-file reference, read from the configuration dataclasses themselves.

Every key a space file (or ``--set``) accepts is a field of :class:`~hybridnas.config.RunConfig`
or of a section dataclass below it; each field's documentation is the string literal written on
the line after it (an *attribute docstring*, the convention mkdocstrings and pydantic use).
:func:`space_keys` walks the dataclasses into the dotted key paths users type
(``evaluation.fidelity.budgets``), with type, default and whether the key is required;
:func:`space_reference` renders them, and every block strategy's options, as the Markdown page
``docs/gen_pages.py`` writes into the site. A test fails when a field has no documentation, so
the page cannot drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import sys
import textwrap
import typing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .block.strategies import STRATEGIES
from .config import RunConfig


@dataclass(frozen=True)
class KeyDoc:
    key: str  # dotted path as --set takes it
    type: str  # readable type
    default: Any  # dataclasses.MISSING when there is none
    required: bool
    unless: Optional[str]  # not required when this key (dotted, a sibling) is set
    doc: str  # the attribute docstring ("" when missing)
    section: bool  # a nested section (a dataclass), not a leaf value


# Keys a space file may hold that are not configuration: read by the loader itself.
FILE_KEYS: Dict[str, str] = {
    "extends": (
        "Another space file (a path relative to this one, or a name in `spaces/`) whose keys this "
        "one inherits and deep-merges over; a child naming another block strategy drops the "
        "parent's options (and library sweep keys) that strategy does not have, with a note."
    ),
}

# What the entries of a mapping-typed key are, and the heading that lists them (None: free-form).
MAPPINGS: Dict[str, Tuple[str, Optional[str]]] = {
    "genes": ("gene name: choices", None),
    "shrink.inner_options": ("the inner strategy's options", "strategy-options"),
    "block.strategy.options": ("strategy options", "strategy-options"),
    "block.library": ("strategy options", "strategy-options"),
    "train.data": ("`data` keys", "data"),
}


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


_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean", type(None): "null"}


def _mapping(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return tp in (dict, typing.Mapping) or origin is dict or getattr(origin, "__name__", "") == "Mapping"


def type_name(tp: Any) -> str:
    """A short, readable name of a field's type, in YAML's words (``list of number``,
    ``integer or null``, ``one of `front`, `all`, `none```)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SCALARS:
        return _SCALARS[tp]
    if tp is Any:
        return "any"
    if origin is typing.Union:
        return " or ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (tuple, list, typing.Sequence) or getattr(origin, "__name__", "") == "Sequence":
        if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
            return f"list of {_plural(args[0])}"
        if args and all(a == args[0] for a in args):
            return f"list of {len(args)} {_plural(args[0])}"
        return "list"
    if _mapping(tp):
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "section"
    return getattr(tp, "__name__", str(tp))


def _plural(tp: Any) -> str:
    name = type_name(tp)
    return f"{name}s" if name in _SCALARS.values() or name == "mapping" else f"({name})"


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
        cls = RunConfig
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    out: List[KeyDoc] = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        section = _section_type(tp)
        unless = f.metadata.get("unless")
        out.append(KeyDoc(key, "section" if section else type_name(tp), _default(f),
                          bool(f.metadata.get("required")), f"{prefix}{unless}" if unless else None,
                          docs.get(f.name, ""), section is not None))
        if section is not None:
            out.extend(space_keys(section, prefix=f"{key}."))
    return out


def undocumented() -> List[str]:
    """Keys whose field has no attribute docstring (the test of the reference page)."""
    return [k.key for k in space_keys() if not k.doc.strip()]


def strategy_options(name: str) -> List[KeyDoc]:
    """The options of block strategy ``name`` (keys relative to ``block.strategy``)."""
    return space_keys(STRATEGIES.get(name, key="block.strategy").Options)


# ---------------------------------------------------------------- the Markdown page


def anchor(key: str) -> str:
    """The heading id of a section (``evaluation.fidelity`` -> ``evaluation-fidelity``)."""
    return key.replace(".", "-").replace("_", "-")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, typing.Mapping):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    return str(v)


def default_text(k: KeyDoc) -> str:
    """The default column: the value as YAML writes it, or when the key is required."""
    if k.required:
        return f"required unless `{k.unless}` is set" if k.unless else "**required**"
    if k.section:
        return "optional"
    if k.default is dataclasses.MISSING:
        return ""
    return f"`{_value(k.default)}`"


def type_text(k: KeyDoc, key: Optional[str] = None) -> str:
    """The type column: a section links to its heading, a mapping says what its entries are."""
    if k.section:
        return f"[section](#{anchor(k.key)})"
    entries = MAPPINGS.get(key or k.key)
    if entries is None:
        return k.type
    what, target = entries
    if target is None:
        return re.sub(r"mappings?", lambda m: f"{m.group(0)} ({what})", k.type, count=1)
    return re.sub(r"mappings?", lambda m: f"{m.group(0)} of [{what}](#{target})", k.type, count=1)


def key_table(keys: Sequence[KeyDoc], within: str = "") -> str:
    """A Markdown table of keys; ``within`` names the strategy whose options they are."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in keys:
        lookup = f"{within}.{k.key}" if within else k.key
        rows.append(f"| `{k.key}` | {_cell(type_text(k, lookup))} | {default_text(k)} | {_cell(k.doc)} |")
    return "\n".join(rows)


def _intro(doc: str) -> List[str]:
    """A section docstring as paragraphs, each on one line, without a leading ````key``: ````."""
    paras = [" ".join(p.split()) for p in inspect.cleandoc(doc).split("\n\n")] if doc else []
    if paras:
        first = re.sub(r"^``[\w.]+``: ", "", paras[0])
        paras[0] = first[:1].upper() + first[1:]
    return paras


def _section(keys: List[KeyDoc], s: KeyDoc, level: str) -> List[str]:
    """A section's heading, its class docstring, whether it is required, and its own keys."""
    cls = section_class(s.key)
    out = ["", f"{level} `{s.key}` {{ #{anchor(s.key)} }}", ""]
    for para in _intro(cls.__doc__ or ""):
        out += [para, ""]
    if s.required:
        out += [f"Required unless `{s.unless}` is set." if s.unless else "Required.", ""]
    members = [k for k in keys if k.key.startswith(s.key + ".") and k.key.count(".") == s.key.count(".") + 1]
    out.append(key_table(members))
    return out


def section_class(key: str) -> type:
    """The dataclass behind a section key (``evaluation.fidelity`` -> ``FidelityConfig``)."""
    cls: Any = RunConfig
    for part in key.split("."):
        cls = _section_type(typing.get_type_hints(cls)[part])
    return cls


def space_reference() -> str:
    """The whole reference page (Markdown): top-level keys, every section, every strategy."""
    keys = space_keys()
    top = [k for k in keys if "." not in k.key]
    out = [
        "# Space-file reference",
        "",
        "Generated from the configuration dataclasses (`hybridnas/config/schema.py`) when the site is built:",
        "each row is a field and its docstring, so this page is always what the code accepts.",
        "Keys are written as `--set` takes them (`--set evaluation.fidelity.budgets=[2]`); in a",
        "space file each dot is a nested section. Unknown keys, wrong types and out-of-range values",
        "are refused with one line naming the key. `null` is YAML's empty value (`--set key=null`).",
        "",
        "## Top level { #top-level }",
        "",
    ]
    for para in _intro(RunConfig.__doc__ or ""):
        out += [para, ""]
    file_rows = [KeyDoc(k, "string or null", None, False, None, doc, False) for k, doc in FILE_KEYS.items()]
    out.append(key_table(file_rows + top))
    for s in (k for k in top if k.section):
        out += _section(keys, s, "##")
        for sub in (k for k in keys if k.section and k.key.startswith(s.key + ".")):
            out += _section(keys, sub, "###")
    out += strategy_reference()
    return "\n".join(out) + "\n"


def strategy_reference() -> List[str]:
    """The page's last part: per registered strategy, its summary and its options table."""
    out = ["", "## Block strategy options { #strategy-options }", "",
           "`block.strategy` is a name and options (`{name: egs, samples: 2}`); a `block.library` entry",
           "overrides options for one library member (and may set `seed`, a fresh initial alpha for",
           "that member). Each strategy's options:"]
    for name in STRATEGIES.names():
        cls = STRATEGIES.get(name)
        summary = _intro(sys.modules[cls.__module__].__doc__ or "")[:1]
        opts = cls.Options
        own = opts.__doc__ if opts.__doc__ and not opts.__doc__.startswith(opts.__name__ + "(") else ""
        out += ["", f"### `{name}` {{ #strategy-{name} }}", ""]
        for para in summary + _intro(own):
            out += [para, ""]
        keys = strategy_options(name)
        out.append(key_table(keys, within=name) if keys else "No options.")
    return out
