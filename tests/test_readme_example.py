"""The Python API example of the docs (docs/reference/api.md), run as written (on the tiny test space).

The README points to that page; the example lives there once, so the test and the page cannot drift."""

import os
import re

from tests.conftest import ROOT

MARKER = "<!-- example: python-api (tested) -->"
PAGE = ROOT / "docs" / "reference" / "api.md"


def readme_example() -> str:
    text = PAGE.read_text()
    assert MARKER in text, "the Python API page lost its tested example"
    block = re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S)
    return block.group(1)


def test_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    code = readme_example()
    assert "hybridnas.search(" in code and "run.export(" in code and "hybridnas.load(" in code
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the example names tests/spaces/tiny.yaml
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/reference/api.md (python-api example)", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "models on the front" in out and "report.html" in out
    run = tmp_path / "runs" / "api-demo"
    for f in ("report.html", "report.md", "plots/front.svg", "trained.jsonl"):
        assert (run / f).is_file(), f
    assert len(os.listdir(run / "exports")) >= 1
