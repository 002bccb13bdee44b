"""The Python API, mirroring the CLI: ``search``, which returns a :class:`~hybridnas.run.Run` with ``front``,
``pick``, ``export``, ``plot``, ``train`` and ``report``.

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
from typing import Any, Dict, List, Optional, Sequence

from .export import load  # noqa: F401  (re-exported as hybridnas.load)
from .run import Run


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
) -> Run:
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
        shown.note(logging.WARNING if note.startswith("warning: ") else logging.INFO,
                   note if note.startswith("warning: ") else f"note: {note}")
    try:
        run_search(cfg, store, shown, callbacks=callbacks, init_from=init_from)
    except StopSearch:
        pass  # said in the log; the run resumes from where it stopped
    return Run(store.root)
