"""Tracking integrations: callbacks that send a search to TensorBoard or MLflow, and the bridge
that writes a run into an Optuna study. Each lives in its own module and imports its package
only when used; a missing one is a one-line error naming the extra (``pip install
'hybridnas[tensorboard]'``, ``[mlflow]``, ``[optuna]``).

``hybridnas search --track tensorboard|mlflow`` builds the callbacks of :data:`TRACKERS`; in Python
pass them yourself: ``hybridnas.search(..., callbacks=[TensorBoardCallback()])``.
"""

from __future__ import annotations

TRACKERS = ("tensorboard", "mlflow")


def tracker(name: str):
    """The callback ``--track NAME`` adds, with its defaults."""
    if name == "tensorboard":
        from .tensorboard import TensorBoardCallback

        return TensorBoardCallback()
    if name == "mlflow":
        from .mlflow import MLflowCallback

        return MLflowCallback()
    from ..errors import UserError

    raise UserError(f"unknown tracker '{name}'; use one of: {', '.join(TRACKERS)}")
