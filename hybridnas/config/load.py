"""Loading a run config: a space file (by path or by name in ``spaces/``), the files it
``extends``, the ``--set KEY=VALUE`` overrides, then conversion and the checks.

``extends: other.yaml`` inherits another file (resolved relative to this one, or a name in
``spaces/``) and deep-merges over it. A child or an override that names another block strategy
drops the options (and library sweep keys) that strategy does not have, with a note: which
options a strategy has is asked of the block strategies through
:data:`hybridnas.registry.CONFIG_HOOKS` (``"block.strategy options"``), so this package imports
none of them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from ..errors import UserError
from ..registry import CONFIG_HOOKS
from .check import check
from .convert import absolute_data_path, from_dict, with_absolute_path
from .schema import MEMBER_KEYS, RunConfig, StrategyConfig
from .source import Source, parse_override

# The spaces ship inside the package (the repository's spaces/ links here), so a space is found
# by name from any folder after `pip install`.
SPACES_DIR = Path(__file__).resolve().parent.parent / "spaces"
DEFAULT_SPACE = "digits"


def resolve_space_path(space: Optional[str]) -> Path:
    """A path, or the name of a file in ``spaces/`` (``digits`` -> ``spaces/digits.yaml``)."""
    if space is None:
        space = DEFAULT_SPACE
    p = Path(space)
    if p.is_file():
        return p
    for cand in (SPACES_DIR / space, SPACES_DIR / f"{space}.yaml"):
        if cand.is_file():
            return cand
    known = ", ".join(sorted(q.stem for q in SPACES_DIR.glob("*.yaml"))) if SPACES_DIR.is_dir() else ""
    raise UserError(f"space file '{space}' not found; give a YAML path or one of: {known}")


def _read_yaml(path: Path, seen: Tuple[Path, ...] = (), notes: Optional[List[str]] = None) -> Dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise UserError(f"{path}: 'extends' forms a cycle; remove it from one of the files")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read space file {path}: {exc.strerror}; check the path") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save the space file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: malformed YAML{where}: {problem}; fix the syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    # a space names its files relative to itself (it may ship with its table or data)
    for section in ("table", "data", "train"):
        part = data.get(section)
        if section == "train" and isinstance(part, dict) and isinstance(part.get("data"), dict):
            data[section] = part = {**part, "data": with_absolute_path(part["data"], path.parent)}
        elif isinstance(part, dict):
            data[section] = with_absolute_path(part, path.parent)
    base = data.pop("extends", None)
    if base is not None:
        base_path = (path.parent / str(base)) if not os.path.isabs(str(base)) else Path(base)
        if not base_path.is_file():
            base_path = resolve_space_path(str(base))
        parent = _without_foreign_strategy(_read_yaml(base_path, seen + (path,), notes), data,
                                           f"{path.name} (extends {Path(base_path).name})", notes)
        data = deep_merge(parent, data)
    return data


def deep_merge(base: Dict[str, Any], over: Mapping[str, Any]) -> Dict[str, Any]:
    """``over`` merged into ``base``, section by section (a strategy's ``options`` replaced whole)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) and k != "options":
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """The raw config with each ``KEY=VALUE`` set (sections made on the way)."""
    data = dict(data)
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise UserError(f"--set {text}: '{part}' is not a section")
            node[part] = child = dict(child)
            node = child
        node[path[-1]] = value
    return data


def load_config(
    space: Optional[str] = None,
    overrides: Sequence[str] = (),
    *,
    validate: bool = True,
    notes: Optional[List[str]] = None,
) -> RunConfig:
    """Load a space (path or name in ``spaces/``), apply ``key=value`` overrides, check it.

    When an override switches the block strategy, the space's options (and library sweep keys)
    that the new strategy does not have are dropped, and a line saying so goes to ``notes``.
    """
    path = resolve_space_path(space)
    raw = _strategy_options_nested(_read_yaml(path, notes=notes))
    source = Source(str(path), overrides)  # a problem with a key --set gave is blamed on --set
    data = absolute_data_path(apply_overrides(raw, overrides))
    cfg = from_dict(RunConfig, data, source=source)
    base_name = from_dict(RunConfig, raw, source=str(path)).block.strategy.name if "block" in raw else None
    if base_name is not None and cfg.block.strategy.name != base_name:
        cfg = _adapt_to_strategy(cfg, base_name, notes)
    if validate:
        check(cfg, source=source)
    return cfg


def config_from_dict(data: Mapping[str, Any], source: str = "config", validate: bool = True) -> RunConfig:
    """A config from plain data (a run's saved ``config.yaml``), checked unless not ``validate``."""
    cfg = from_dict(RunConfig, dict(data), source=source)
    if validate:
        check(cfg, source=source)
    return cfg


# ---------------------------------------------------------------- a switch of block strategy


def _strategy_options_nested(data: Dict[str, Any]) -> Dict[str, Any]:
    """``block.strategy`` as ``{name, options}``: options written beside the name move under
    ``options``, so an override reaches them by either key (``block.strategy.mode`` or
    ``block.strategy.options.mode``, as the saved config.yaml writes it)."""
    block = data.get("block")
    strategy = block.get("strategy") if isinstance(block, Mapping) else None
    if not isinstance(strategy, Mapping) or not isinstance(strategy.get("options", {}) or {}, Mapping):
        return data
    return {**data, "block": {**block, "strategy": StrategyConfig.nest(strategy)}}


def _strategy_of(data: Mapping[str, Any]) -> Tuple[Optional[str], Dict[str, Any]]:
    """(name, options) of a raw space's ``block.strategy`` (options beside the name or nested)."""
    block = data.get("block")
    strategy = block.get("strategy") if isinstance(block, Mapping) else None
    if isinstance(strategy, str):
        return strategy, {}
    if not isinstance(strategy, Mapping):
        return None, {}
    nested = _strategy_options_nested({"block": {"strategy": strategy}})["block"]["strategy"]
    return nested.get("name"), dict(nested.get("options") or {})


def _without_foreign_strategy(parent: Dict[str, Any], child: Mapping[str, Any], where: str,
                              notes: Optional[List[str]]) -> Dict[str, Any]:
    """The parent of an ``extends:`` without the strategy options (and library sweep keys) the
    child's other strategy does not have: what ``--block-strategy`` drops, dropped alike."""
    new, _ = _strategy_of(child)
    old, options = _strategy_of(parent)
    if new is None or old is None or new == old:
        return parent
    block = dict(parent["block"])
    library = block.get("library") if "library" not in (child.get("block") or {}) else None
    listed = isinstance(library, (list, tuple)) and all(isinstance(m, Mapping) for m in library)
    members = list(library) if listed else []
    kept, kept_members, dropped = _drop_foreign(new, options, members)
    block["strategy"] = {"name": old, "options": kept}
    if members:
        block["library"] = kept_members
    if dropped and notes is not None:
        notes.append(_switch_note(f"{where}: ", new, old, dropped, len(members), len(kept_members)))
    return {**parent, "block": block}


def _drop_foreign(new: str, options: Mapping[str, Any], library: Sequence[Mapping[str, Any]]):
    """(options, library, dropped keys): only what strategy ``new`` accepts (library members
    keep the keys the block stage reads itself; members that become equal are merged)."""
    known = CONFIG_HOOKS.get("block.strategy options")(new, options)
    dropped = sorted({k for k in options if k not in known}
                     | {k for m in library for k in m if k not in known and k not in MEMBER_KEYS})
    kept_library: List[Dict[str, Any]] = []
    for m in library:
        kept = {k: v for k, v in m.items() if k in known or k in MEMBER_KEYS}
        if kept not in kept_library:
            kept_library.append(kept)
    return {k: v for k, v in options.items() if k in known}, kept_library, dropped


def _switch_note(where: str, new: str, old: str, dropped: Sequence[str], before: int, after: int) -> str:
    return (f"{where}block strategy '{new}' replaces '{old}': its options {', '.join(dropped)} are dropped"
            + (f"; library members: {before} -> {after}" if before else ""))


def _adapt_to_strategy(cfg: RunConfig, old: str, notes: Optional[List[str]]) -> RunConfig:
    new = cfg.block.strategy.name
    options, library, dropped = _drop_foreign(new, cfg.block.strategy.options, cfg.block.library)
    if not dropped:
        return cfg
    if notes is not None:
        notes.append(_switch_note("", new, old, dropped, len(cfg.block.library), len(library)))
    block = dataclasses.replace(
        cfg.block, strategy=StrategyConfig(new, options), library=tuple(library)
    )
    return dataclasses.replace(cfg, block=block)
