"""The import-layer contract: every module of hybridnas is in a layer of :data:`hybridnas.layers.LAYERS`,
imports only from its own layer or a lower one (function-level and ``TYPE_CHECKING`` imports included),
and no modules import each other round a cycle.

Run as a script (``python tests/unit/test_layers.py``) it prints every violation, one a line, and exits 1
when there is any."""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # as a script: this checkout's package, not an installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pytest  # noqa: E402

from hybridnas.layers import LAYERS, Layer, check, layer_of, markdown, package_root  # noqa: E402


def test_every_module_is_in_a_layer_imports_no_higher_layer_and_no_cycle():
    problems = check(package_root()).problems()
    if problems:
        pytest.fail(f"{len(problems)} violations of the layer map:\n" + "\n".join(problems), pytrace=False)


def test_the_scan_sees_the_whole_package():
    report = check(package_root())
    assert "hybridnas.cli.main" in report.modules and "hybridnas.layers" in report.modules
    assert len(report.edges) > 100
    assert any(e.lazy for e in report.edges), "imports inside functions are edges too"


def test_layer_of_prefers_the_most_specific_pattern():
    layers = (Layer(0, "low", ("p.a.*", "p.b")), Layer(1, "high", ("p.a.top.*", "p")))
    assert layer_of("p.a", layers).rank == 0 and layer_of("p.a.x.y", layers).rank == 0
    assert layer_of("p.a.top", layers).rank == 1 and layer_of("p.a.top.z", layers).rank == 1
    assert layer_of("p.b", layers).rank == 0 and layer_of("p.b.c", layers) is None  # no star: that module alone
    assert layer_of("p", layers).rank == 1 and layer_of("q", layers) is None
    assert layer_of("hybridnas.layers", LAYERS).rank == 0


TOY_LAYERS = (Layer(0, "low", ("toy.low.*",)), Layer(1, "mid", ("toy.mid.*",)), Layer(2, "top", ("toy", "toy.top")))


def _toy(tmp_path: Path, files: dict) -> Path:
    for name, text in {"toy/__init__.py": "", "toy/low/__init__.py": "", "toy/mid/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_clean_toy_package_passes(tmp_path):
    root = _toy(tmp_path, {
        "toy/low/a.py": "import os\n",
        "toy/low/b.py": "from . import a\nfrom .a import thing\n",
        "toy/mid/m.py": "from ..low import b\nimport toy.low.a\n",
        "toy/top.py": "def f():\n    from .mid import m\n",
    })
    report = check(root, "toy", TOY_LAYERS)
    assert report.problems() == []
    assert {(e.source, e.target) for e in report.edges} == {
        ("toy.low.b", "toy.low.a"), ("toy.mid.m", "toy.low.b"), ("toy.mid.m", "toy.low.a"), ("toy.top", "toy.mid.m")}


def test_the_checker_catches_a_planted_upward_import_wherever_it_stands(tmp_path):
    root = _toy(tmp_path, {
        "toy/low/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..mid.m import M\n",
        "toy/low/b.py": "class B:\n    def go(self):\n        import toy.top\n",
        "toy/mid/m.py": "M = 1\n",
        "toy/top.py": "",
    })
    problems = check(root, "toy", TOY_LAYERS).problems()
    assert problems == [
        "toy/low/a.py:3: toy.low.a (layer 0 low) imports toy.mid.m (layer 1 mid), a higher layer",
        "toy/low/b.py:3: toy.low.b (layer 0 low) imports toy.top (layer 2 top), a higher layer [inside a function]",
    ]


def test_the_checker_catches_a_planted_cycle_and_names_its_edges(tmp_path):
    root = _toy(tmp_path, {
        "toy/low/a.py": "from .b import B\n",
        "toy/low/b.py": "B = 1\n\ndef f():\n    from .c import C\n",
        "toy/low/c.py": "from . import a\nC = 2\n",
        "toy/top.py": "",
    })
    problems = check(root, "toy", TOY_LAYERS).problems()
    assert problems == [
        "import cycle toy.low.a -> toy.low.b -> toy.low.c -> toy.low.a (toy/low/a.py:1 toy.low.a -> toy.low.b; "
        "toy/low/b.py:4 toy.low.b -> toy.low.c; toy/low/c.py:1 toy.low.c -> toy.low.a)"]


def test_the_checker_catches_a_module_in_no_layer_and_an_import_of_no_module(tmp_path):
    root = _toy(tmp_path, {"toy/stray.py": "import toy.low.gone\n", "toy/top.py": ""})
    assert check(root, "toy", TOY_LAYERS).problems() == [
        "toy/stray.py: module toy.stray is in no layer of hybridnas.layers.LAYERS",
        "toy/stray.py:1: toy.stray imports toy.low.gone, which is no module of the package",
    ]


def test_the_docs_page_draws_the_groups_and_marks_what_points_up(tmp_path):
    root = _toy(tmp_path, {"toy/low/a.py": "import toy.top\n", "toy/mid/m.py": "from ..low import a\n",
                           "toy/top.py": ""})
    page = markdown(check(root, "toy", TOY_LAYERS))
    assert "| `mid` | 1 mid | 2 | `low` (1) |" in page  # the sub-package and m.py
    assert "| `low` | 0 low | 2 | **`top` (1)** up |" in page
    assert "1 imports break the layer map" in page and "toy/low/a.py:1: toy.low.a (layer 0 low) imports toy.top" in page
    clean = markdown(check(_toy(tmp_path / "clean", {"toy/top.py": "from .low import *\n"}), "toy", TOY_LAYERS))
    assert "Nothing: 4 modules, 1 imports between them" in clean


def main() -> int:
    report = check(package_root())
    problems = report.problems()
    for line in problems:
        print(line)
    print(f"{len(report.modules)} modules, {len(report.edges)} imports: "
          f"{len(problems) or 'no'} violation{'s' * (len(problems) != 1)} of the layer map", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
