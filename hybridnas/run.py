"""A run directory as the Python API sees it (``hybridnas.Run``): its front, records and library, and the
commands that act on it (``pick``, ``export``, ``plot``, ``train``, ``report``), each the CLI command of the
same name. :func:`hybridnas.search` returns one; callbacks are handed one (:mod:`hybridnas.callbacks`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence


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

    @property
    def trained(self) -> Dict[str, Dict[str, Any]]:
        """Fully trained models: arch id -> record (proxy and full accuracy)."""
        return self.results.trained()

    def pick(self, rule: Optional[str] = None, n: int = 1, *, prefer=None, weights=None, record: bool = True,
             **limits) -> List[Dict[str, Any]]:
        """``hybridnas pick``: rules knee, max-acc, asf (``prefer={"acc": 0.98, "flops": 2e6}``),
        pseudo-weights (``weights={"acc": 0.7, "params": 0.3}``), high-tradeoff; limits
        ``max_params``, ``max_flops``, ``max_latency``, ``min_acc``."""
        from .analysis.pick import pick

        return pick(self.results, rule=rule, n=n, prefer=prefer, weights=weights, record=record, **limits)

    def model(self, ident: str, weights: bool = True):
        """The network of ``ident`` (fully trained weights when there are some), in eval mode."""
        return self.results.model(self.results.record(ident), weights=weights)

    def export(self, ident: str, formats: Sequence[str] = ("state", "pt2"), out=None,
               opset: Optional[int] = None) -> Path:
        """``hybridnas export``: formats state, pt2, onnx, torchscript; returns the folder."""
        from .export import export_model

        return export_model(self.results, ident, formats=formats, out=out, opset=opset)

    def plot(self, formats: Sequence[str] = ("png",), theme: str = "light",
             figures: Optional[Sequence[str]] = None) -> List[Path]:
        """``hybridnas plot``: the run's figures under ``plots/``; returns the files."""
        from .analysis.plots import plot_all

        return plot_all(self.results, formats, theme, figures)

    def train(self, ident: str, *, device: Optional[str] = None, restart: bool = False, progress: bool = False,
              threads: Optional[int] = None, **settings: Any) -> Dict[str, Any]:
        """``hybridnas train``: train ``ident`` fully; keyword settings override the space's
        ``train`` section (``epochs=50, cutout=2, drop_path=0.1, aux_weight=0.4``)."""
        from .progress import Progress
        from .retrain import train_model

        return train_model(self.results, ident, settings, device=device, restart=restart,
                           progress=Progress(quiet=not progress), threads=threads)

    def report(self, theme: str = "light") -> List[Path]:
        """``hybridnas report``: writes ``report.md``, ``report.html`` and (with plotly) the interactive
        ``front.html``; returns their paths."""
        from .report import write_report

        return write_report(self.results, theme=theme)

    def __repr__(self) -> str:
        return f"Run('{self.path}')"
