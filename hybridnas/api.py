"""The Python API, mirroring the CLI: ``search``, and a :class:`Run` with ``front``, ``pick``,
``export``, ``plot``, ``train`` and ``report``.

    import hybridnas
    run = hybridnas.search("digits", engine__generations=3)    # or Run.load("runs/digits")
    # callbacks=[...]: hybridnas.callbacks.Callback s (TensorBoard, MLflow: hybridnas.integrations)
    run.front                                                   # list of records (dicts)
    [best] = run.pick(rule="knee", max_params=10_000)
    run.train(best["arch_id"], epochs=50)                       # optional: the final stage
    folder = run.export(best["arch_id"], formats=("state", "pt2", "onnx"))
    model = hybridnas.load(folder)
    run.report()                                                # report.md + report.html
"""

from __future__ import annotations

import logging
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
    callbacks: Sequence[Any] = (),
    init_from: Optional[str] = None,
    **settings: Any,
) -> "Run":
    """Run (or resume) a search; keyword settings override the space (``block__epochs=2``).

    ``progress``: show messages and bars on stderr (they always go to the ``hybridnas`` logger
    and to ``RUN/search.log``). ``callbacks``: :class:`hybridnas.callbacks.Callback` s called after
    each evaluation, each generation and at the end; one raising
    :class:`~hybridnas.callbacks.StopSearch` stops the search, which returns the run (resumable).
    ``init_from``: a run whose block library and front start this one (``hybridnas search --init-from``).
    Notes the CLI prints before a search (a changed package version, lost records) go to the logger."""
    from .callbacks import StopSearch
    from .device import passive_wait
    from .pipeline import open_run, run_search

    passive_wait()  # for the evaluation workers (and this process, if torch is not loaded yet)
    from .progress import Progress

    notes: list = []
    cfg, store = open_run(space, list(overrides) + _overrides(settings), name=name, resume=resume, out=out,
                          notes=notes)
    shown = Progress(quiet=not progress)
    for note in notes:  # what the CLI prints before a search: a changed version, lost records, keys not applied
        shown.emit(logging.WARNING if note.startswith("warning: ") else logging.INFO,
                   note if note.startswith("warning: ") else f"note: {note}")
    try:
        run_search(cfg, store, shown, callbacks=callbacks, init_from=init_from)
    except StopSearch:
        pass  # said in the log; the run resumes from where it stopped
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

    def export(self, ident: str, formats: Sequence[str] = ("state", "pt2"), out=None, opset: Optional[int] = None) -> Path:
        """``hybridnas export``: formats state, pt2, onnx, torchscript; returns the folder."""
        from .export import export_model

        return export_model(self.results, ident, formats=formats, out=out, opset=opset)

    def plot(self, formats: Sequence[str] = ("png",), theme: str = "light", figures: Optional[Sequence[str]] = None) -> List[Path]:
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
