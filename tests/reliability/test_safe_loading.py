"""Safe loading: nothing hybridnas reads can run code.

A scan of the package source (its syntax tree, so comments and strings do not count): every
``torch.load`` passes ``weights_only=True``, YAML is read only by ``safe_load``, ``np.load`` passes
``allow_pickle=False``, and no pickle-family module is imported. Then every file of a finished
run is read the safe way - JSON, YAML, tensors with ``weights_only=True`` - so none holds a
pickled live object.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import List

import pytest

import hybridnas

PACKAGE = Path(hybridnas.__file__).resolve().parent
PICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal", "joblib"}


def _name(node: ast.AST) -> str:
    """Dotted name of a call's function: ``torch.load``, ``yaml.load``, ``np.load``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _kw(call: ast.Call, key: str):
    for k in call.keywords:
        if k.arg == key and isinstance(k.value, ast.Constant):
            return k.value.value
    return None


def unsafe_loads(source: str, filename: str) -> List[str]:
    """Unsafe loading calls and pickle imports in one Python source file."""
    out = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            out += [f"{where}: imports {a.name}" for a in node.names if a.name.split(".")[0] in PICKLERS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLERS:
            out.append(f"{where}: imports from {node.module}")
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name == "torch.load" and _kw(node, "weights_only") is not True:
                out.append(f"{where}: torch.load without weights_only=True")
            elif name.startswith("yaml.") and name.split(".")[-1] in ("load", "load_all", "unsafe_load", "full_load",
                                                                      "unsafe_load_all", "full_load_all"):
                out.append(f"{where}: {name} (use yaml.safe_load)")
            elif name in ("np.load", "numpy.load") and _kw(node, "allow_pickle") is not False:
                out.append(f"{where}: {name} without allow_pickle=False")
    return out


def test_the_scan_finds_what_it_looks_for():
    bad = (
        "import pickle\nfrom dill import loads\nimport torch, yaml, numpy as np\n"
        "torch.load('a')\ntorch.load('a', weights_only=False)\nyaml.load(s)\nyaml.unsafe_load(s)\nnp.load(p)\n"
    )
    assert len(unsafe_loads(bad, "bad.py")) == 7
    good = "torch.load(p, map_location='cpu', weights_only=True)\nyaml.safe_load(s)\nnp.load(p, allow_pickle=False)\n"
    assert unsafe_loads(good, "good.py") == []


def test_package_loads_nothing_unsafely():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += unsafe_loads(path.read_text(), str(path.relative_to(PACKAGE.parent)))
    assert not found, "\n".join(found)


def test_every_file_of_a_run_reads_without_unpickling(tiny_run):
    import torch
    import yaml

    seen = set()
    for p in sorted(tiny_run.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        assert not data.startswith(b"\x80"), f"{p} is a raw pickle"
        kind = p.suffix
        seen.add(kind)
        if kind == ".json":
            json.loads(data)
        elif kind == ".jsonl":
            [json.loads(line) for line in data.splitlines()]
        elif kind == ".yaml":
            yaml.safe_load(data)
        elif kind == ".pt":
            torch.load(p, map_location="cpu", weights_only=True)
        elif kind in (".csv", ".png", ".svg"):
            pass
        elif kind == ".log":  # search.log: text
            data.decode("utf-8")
        else:
            pytest.fail(f"unexpected file type in a run: {p.relative_to(tiny_run)}")
    assert {".json", ".jsonl", ".yaml", ".pt"} <= seen


def test_incompatible_run_format_names_both_versions(run_copy, capsys):
    from hybridnas.cli.main import main
    from hybridnas.store.run import COMPATIBLE_FORMATS

    m = json.loads((run_copy / "manifest.json").read_text())
    (run_copy / "manifest.json").write_text(json.dumps({**m, "format_version": 7, "hybridnas": "3.1.4"}))
    for args in (["search", "--resume", str(run_copy), "--quiet"], ["pick", str(run_copy)], ["report", str(run_copy)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"hybridnas {hybridnas.__version__} reads formats {COMPATIBLE_FORMATS[0]}" in err
        assert "hybridnas 3.1.4 (run format 7)" in err
