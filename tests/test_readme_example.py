"""The README's Python API example, run as written (on the tiny test space)."""

import os
import re

from tests.conftest import ROOT

MARKER = "<!-- example: python-api (tested) -->"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    assert MARKER in text, "the README lost its tested example"
    block = re.search(r"```python\n(.*?)```", text[text.index(MARKER):], re.S)
    return block.group(1)


def test_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    code = readme_example()
    assert "hybridnas.search(" in code and "run.export(" in code and "hybridnas.load(" in code
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the example names tests/spaces/tiny.yaml
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (python-api example)", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "models on the front" in out and "report.html" in out
    run = tmp_path / "runs" / "api-demo"
    for f in ("report.html", "report.md", "plots/front.svg", "trained.jsonl"):
        assert (run / f).is_file(), f
    assert len(os.listdir(run / "exports")) >= 1
