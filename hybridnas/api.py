"""The Python API, mirroring the CLI.

    import hybridnas
    run = hybridnas.search("digits", engine__generations=3)    # or Run.load("runs/digits")
    run.front                                                   # list of records (dicts)
    [best] = run.pick(rule="knee", max_params=10_000)
    folder = run.export(best["arch_id"])
    model = hybridnas.load(folder)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .export import load  # noqa: F401  (re-exported as hybridnas.load)


def _overrides(kw: Dict[str, Any]) -> List[str]:
    """``engine__generations=3`` -> ``"engine.generations=3"`` (values written as YAML)."""
    import yaml

    out = []
    for key, value in kw.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip()
        if text.endswith("\n..."):
            text = text[: -len("\n...")]
        text = text.removesuffix("...").strip()
        out.append(f"{key.replace('__', '.')}={text}")
    return out


def search(
    space: Optional[str] = None,
    *,
    name: Optional[str] = None,
    out: Optional[str] = None,
    resume: Optional[str] = None,
    progress: bool = False,
    overrides: Sequence[str] = (),
    **settings: Any,
) -> "Run":
    """Run (or resume) a search; keyword settings override the space (``block__epochs=2``)."""
    from .pipeline import open_run, run_search
    from .progress import Progress

    cfg, store = open_run(space, list(overrides) + _overrides(settings), name=name, resume=resume, out=out)
    run_search(cfg, store, Progress(quiet=not progress))
    return Run(store.root)


class Run:
    """A run directory, finished or not: its front, picks, plots and models."""

    def __init__(self, path):
        from .results import RunResults

        self.results = RunResults(path)

    @classmethod
    def load(cls, path) -> "Run":
        return cls(path)

    @property
    def path(self) -> Path:
        return self.results.root

    @property
    def config(self):
        return self.results.config

    @property
    def front(self) -> List[Dict[str, Any]]:
        return self.results.front()

    @property
    def records(self) -> List[Dict[str, Any]]:
        return self.results.records()

    @property
    def library(self):
        return self.results.library

    def pick(self, rule: str = "knee", n: int = 1, **limits) -> List[Dict[str, Any]]:
        from .analysis.pick import pick

        return pick(self.results, rule=rule, n=n, **limits)

    def model(self, ident: str, weights: bool = True):
        return self.results.model(self.results.record(ident), weights=weights)

    def export(self, ident: str, formats: Sequence[str] = ("state", "pt2"), out=None) -> Path:
        from .export import export_model

        return export_model(self.results, ident, formats=formats, out=out)

    def plot(self, formats: Sequence[str] = ("png",)) -> List[Path]:
        from .analysis.plots import plot_front

        return plot_front(self.results, formats)

    def __repr__(self) -> str:
        return f"Run('{self.path}')"
