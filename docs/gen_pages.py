"""Pages generated at build time (mkdocs-gen-files), so they cannot drift from the code.

- ``reference/space.md``: every key of a space file, from the configuration dataclasses and
  their attribute docstrings (:mod:`hybridnas.reference`), then every block strategy's options.
"""

from __future__ import annotations

import dataclasses

import mkdocs_gen_files

from hybridnas.reference import KeyDoc, space_keys

def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(k: KeyDoc) -> str:
    if k.required:
        return f"required unless `{k.unless}` is set" if k.unless else "**required**"
    if k.default is dataclasses.MISSING:
        return ""
    v = k.default
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (tuple, list)):
        return "`[" + ", ".join(map(str, v)) + "]`"
    if isinstance(v, dict):
        return "`{}`" if not v else f"`{v}`"
    return f"`{v}`"


def key_table(keys, strip: str = "") -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in keys:
        if k.section:
            continue
        name = k.key[len(strip):] if strip and k.key.startswith(strip) else k.key
        rows.append(f"| `{name}` | {_cell(k.type)} | {_default(k)} | {_cell(k.doc)} |")
    return "\n".join(rows)


def space_reference() -> str:
    keys = space_keys()
    top = [k for k in keys if "." not in k.key]
    out = [
        "# Space-file reference",
        "",
        "Generated from the configuration dataclasses (`hybridnas/config.py`) when the site is built:",
        "each row is a field and its docstring, so this page is always what the code accepts.",
        "Keys are written as `--set` takes them (`--set evaluation.fidelity.budgets=[2]`); in a",
        "space file each dot is a nested section. Unknown keys, wrong types and out-of-range values",
        "are refused with one line naming the key.",
        "",
        "## Top level",
        "",
        key_table([k for k in top if not k.section]),
    ]
    for s in (k for k in top if k.section):
        out += ["", f"## `{s.key}`", "", s.doc, ""]
        members = [k for k in keys if k.key.startswith(s.key + ".")]
        out.append(key_table([k for k in members if k.key.count(".") == 1]))
        for sub in (k for k in members if k.section):
            out += ["", f"### `{sub.key}`", "", sub.doc, ""]
            out.append(key_table([k for k in keys if k.key.startswith(sub.key + ".") and not k.section]))
    out += strategy_reference()
    return "\n".join(out) + "\n"


def strategy_reference():
    from hybridnas.block.strategies import STRATEGIES

    out = ["", "## Block strategy options", "",
           "`block.strategy` is a name and options (`{name: egs, samples: 2}`); a `block.library` entry",
           "overrides options for one library member. Each strategy's options:"]
    for name in STRATEGIES.names():
        cls = STRATEGIES.get(name)
        out += ["", f"### `{name}`", "", _cell((cls.__doc__ or "").strip().split("\n\n")[0]), ""]
        opts = space_keys(cls.Options, prefix="")
        out.append(key_table(opts) if opts else "No options.")
    return out


with mkdocs_gen_files.open("reference/space.md", "w") as f:
    f.write(space_reference())
mkdocs_gen_files.set_edit_path("reference/space.md", "../hybridnas/config.py")
