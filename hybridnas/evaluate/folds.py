"""``evaluation.folds``: k-fold cross-validation of every candidate (:class:`Folds`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..data import Split
from ..errors import UserError


@dataclass(frozen=True)
class Folds:
    """``evaluation.folds``: each candidate trains ``k`` times, fold ``i`` validating on the
    ``i``-th of ``k`` stratified parts of train + val and training on the rest. Every one of
    those images is then validated once, by a network that did not train on it: the validation
    accuracy is measured on all of them (``val_n``) and its standard error shrinks by about
    ``sqrt(k (train + val) / val)``, at ``k`` times the cost. The test split is untouched (its
    accuracy is the folds' mean); the first fold's network is the one kept. The parts depend
    on the run's seed only, so every candidate and every worker cuts the same ones."""

    k: int
    seed: int

    def datasets(self, data):
        """The ``k`` datasets, one at a time: train + val concatenated once, and one fold's
        copy of it at a time beside the original splits."""
        import numpy as np
        import torch
        from sklearn.model_selection import StratifiedKFold

        x = torch.cat([data.train.x, data.val.x])
        y = torch.cat([data.train.y, data.val.y])
        parts = StratifiedKFold(n_splits=self.k, shuffle=True, random_state=self.seed)
        for tr, va in parts.split(np.zeros(len(y)), y.cpu().numpy()):
            tr, va = torch.as_tensor(tr, device=y.device), torch.as_tensor(va, device=y.device)
            yield replace(data, train=Split(x[tr], y[tr]), val=Split(x[va], y[va]))

    def check(self, data, key: str = "evaluation.folds") -> None:
        """Every class needs at least ``k`` images in train + val; say so before anything trains."""
        import torch

        counts = torch.bincount(torch.cat([data.train.y, data.val.y]).cpu())
        present = counts[counts > 0]
        if len(present) and int(present.min()) < self.k:
            c = int(torch.nonzero(counts == present.min())[0])
            raise UserError(f"'{key}' is {self.k} but class {c} has only {int(present.min())} images in train + val; "
                            f"lower {key} to at most {int(present.min())}")
