"""The generated space reference: every key documented, every shipped key covered, columns right."""

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional

import pytest
import yaml

from hybridnas.block.strategies import STRATEGIES
from hybridnas.config import MEMBER_KEYS, SPACES_DIR, load_config
from hybridnas.reference import (
    FILE_KEYS,
    MAPPINGS,
    attribute_docs,
    default_text,
    section_class,
    space_keys,
    space_reference,
    strategy_options,
    type_text,
    undocumented,
)

SPACES = sorted(SPACES_DIR.glob("*.yaml"))


def by_key() -> Dict[str, Any]:
    return {k.key: k for k in space_keys()}


# ---------------------------------------------------------------- (a), (b) every key documented


def test_every_config_key_is_documented():
    assert undocumented() == []


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_option_is_documented(name):
    opts = strategy_options(name)
    assert opts, f"{name} has no options to document"
    assert [k.key for k in opts if not k.doc.strip()] == []


def test_a_comment_is_not_documentation():
    @dataclasses.dataclass
    class Probe:
        documented: int = 1
        """What it does."""
        commented: int = 2  # a comment is not an attribute docstring
        # nor is a comment line before a field
        preceded: int = 3

    assert attribute_docs(Probe) == {"documented": "What it does."}
    keys = {k.key: k.doc for k in space_keys(Probe)}
    assert keys == {"documented": "What it does.", "commented": "", "preceded": ""}


def test_every_section_has_an_introduction():
    from hybridnas.config import RunConfig

    classes = {RunConfig} | {section_class(k.key) for k in space_keys() if k.section}
    assert len(classes) == 15
    for cls in classes:  # a dataclass without a docstring gets its signature as one
        assert cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("), cls.__name__


def test_every_mapping_key_says_what_it_holds():
    keys = [(k.key, k) for k in space_keys()]
    keys += [(f"{name}.{k.key}", k) for name in STRATEGIES.names() for k in strategy_options(name)]
    untold = [key for key, k in keys if "mapping" in k.type and key not in MAPPINGS]
    assert untold == []
    assert set(MAPPINGS) <= {key for key, _ in keys}, "MAPPINGS names a key that no longer exists"


# ---------------------------------------------------------------- (c) shipped spaces are covered


def _strategy_keys(name: str, options: Mapping[str, Any]) -> set:
    return STRATEGIES.get(name).option_names(options)


def unknown_keys(raw: Mapping[str, Any], strategy: Optional[str]) -> List[str]:
    """Dotted keys of a raw space file that the reference does not document: not a key of
    :func:`space_keys`, not a file key, not an option of the space's strategy, not a ``data``
    key inside ``train.data``. ``genes`` holds free-form gene names."""
    known = by_key()
    data_keys = {k.split(".", 1)[1] for k in known if k.startswith("data.")}
    bad: List[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            if not prefix and name in FILE_KEYS:
                continue
            if key == "block.strategy" and isinstance(value, Mapping):
                options = {**dict(value.get("options") or {}),
                           **{k: v for k, v in value.items() if k not in ("name", "options")}}
                allowed = _strategy_keys(str(value.get("name", strategy)), options)
                bad.extend(f"{key}.{k}" for k in options if k not in allowed)
                continue
            if key == "block.library":
                base = (raw.get("block") or {}).get("strategy")
                base = dict(base) if isinstance(base, Mapping) else {}
                for i, member in enumerate(value):
                    allowed = _strategy_keys(strategy, {**base, **member}) | set(MEMBER_KEYS)
                    bad.extend(f"{key}[{i}].{k}" for k in member if k not in allowed)
                continue
            if key == "train.data":
                bad.extend(f"{key}.{k}" for k in value if k not in data_keys)
                continue
            doc = known.get(key)
            if doc is None:
                bad.append(key)
            elif doc.section and isinstance(value, Mapping):
                walk(value, f"{key}.")

    walk(raw, "")
    return bad


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_shipped_space_keys_are_in_the_reference(path):
    raw = yaml.safe_load(path.read_text())
    cfg = load_config(str(path), validate=False)
    strategy = cfg.block.strategy.name if cfg.block is not None else None
    assert unknown_keys(raw, strategy) == []


def test_shipped_spaces_are_found():
    assert {"digits", "digits_table", "fashion_mnist_gpu"} <= {p.stem for p in SPACES}


def test_unknown_keys_finds_what_the_reference_lacks():
    raw = {
        "extends": "digits.yaml",
        "evaluation": {"epoch": 3, "fidelity": {"budgets": [1], "rungs": 2}},
        "block": {"strategy": {"name": "egs", "samples": 2, "lam": 0.1},
                  "library": [{"samples": 1, "seed": 3}, {"tau": 1}]},
        "train": {"data": {"image_size": 28, "sizes": 1}},
        "genes": {"anything": [1, 2]},
    }
    assert sorted(unknown_keys(raw, "egs")) == sorted([
        "evaluation.epoch", "evaluation.fidelity.rungs", "block.strategy.lam",
        "block.library[1].tau", "train.data.sizes",
    ])


# ---------------------------------------------------------------- (d) the columns


@pytest.mark.parametrize("key, type_, default", [
    ("engine.pop_size", "integer", "**required**"),
    ("engine.generations", "integer or null", "required unless `engine.evaluations` is set"),
    ("engine.evaluations", "integer or null", "`null`"),
    ("data.dataset", "string", "**required**"),
    ("evaluation.keep_weights", "one of `front`, `all`, `none`", "`front`"),
    ("evaluation.max_loss", "number or null", "`1000.0`"),
    ("evaluation.channels_last", "boolean or null", "`true`"),
    ("data.augment", "boolean", "`false`"),
    ("block.arch_betas", "list of 2 numbers", "`[0.5, 0.999]`"),
    ("network.blocks", "list of 2 integers", "**required**"),
    ("objectives", "list of strings", "`[error, params, flops]`"),
    ("evaluation.fidelity.budgets", "list of integers", "`[]`"),
    ("block.library", "list of mappings of [strategy options](#strategy-options)", "`[{}]`"),
    ("train.data", "mapping of [`data` keys](#data)", "`{}`"),
    ("genes", "mapping (gene name: choices) or null", "`null`"),
    ("data", "[section](#data)", "required unless `genes` is set"),
    ("constraints", "[section](#constraints)", "optional"),
    ("evaluation.fidelity", "[section](#evaluation-fidelity)", "optional"),
])
def test_type_and_default_columns(key, type_, default):
    k = by_key()[key]
    assert (type_text(k), default_text(k)) == (type_, default)


def test_strategy_option_columns():
    enhanced = {k.key: k for k in strategy_options("enhanced")}
    assert type_text(enhanced["mode"]) == "one of `additive`, `multiplicative`"
    assert default_text(enhanced["lam"]) == "`0.5`"
    darts = {k.key: k for k in strategy_options("darts")}
    assert type_text(darts["order"]) == "one of `1`, `2`"
    shrink = {k.key: k for k in strategy_options("shrink")}
    assert type_text(shrink["inner_options"], "shrink.inner_options").startswith("mapping of [the inner")


def _rows(page: str) -> List[List[str]]:
    rows = []
    for line in page.splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
    return rows


def test_page_has_a_row_for_every_key_and_no_empty_meaning():
    page = space_reference()
    rows = _rows(page)
    assert all(len(r) == 4 for r in rows), [r for r in rows if len(r) != 4][:3]
    assert [r[0] for r in rows if not r[3]] == []
    assert [r[0] for r in rows if not r[1]] == []
    named = {r[0].strip("`") for r in rows}
    keys = {k.key for k in space_keys()} | set(FILE_KEYS)
    assert keys <= named
    n_options = sum(len(strategy_options(n)) for n in STRATEGIES.names())
    assert len(rows) == len(keys) + n_options


def test_page_sections_and_links_resolve():
    page = space_reference()
    ids = set(re.findall(r"\{ #([\w-]+) \}", page))
    for k in space_keys():
        if k.section:
            assert f"`{k.key}` {{ #" in page, k.key
    for name in STRATEGIES.names():
        assert f"### `{name}`" in page
    links = set(re.findall(r"\]\(#([\w-]+)\)", page))
    assert links and links <= ids, links - ids
    assert "``" not in re.sub(r"``[^`]+``", "", page), "an unbalanced double backtick"


def _registries():
    from hybridnas.data.sources import SOURCES
    from hybridnas.evaluate import EVALUATORS
    from hybridnas.network.engines.base import ENGINES
    from hybridnas.network.predictors import AUTO, PREDICTORS
    from hybridnas.space.ops import OPS

    algorithms = {a for name in ENGINES.names() for a in ENGINES.get(name).algorithms}
    return [
        ("data.dataset", SOURCES.names()),
        ("cell.ops", OPS.names()),
        ("block.strategy.name", STRATEGIES.names()),
        ("evaluation.evaluator", EVALUATORS.names()),
        ("engine.name", ENGINES.names()),
        ("engine.algorithm", sorted(algorithms)),
        ("engine.surrogate.predictor", PREDICTORS.names() + list(AUTO)),
    ]


def test_documented_choices_name_every_registered_one():
    """A key whose values come from a registry lists them all in its docstring, so a new
    strategy, op, dataset, evaluator, engine or predictor cannot be missing from the page."""
    keys = by_key()
    missing = {key: [n for n in names if f"``{n}``" not in keys[key].doc] for key, names in _registries()}
    assert {k: v for k, v in missing.items() if v} == {}
