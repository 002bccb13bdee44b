"""k-fold cross-validation of candidates (evaluation.folds): every train + val image validated once."""

import pytest
import torch

from hybridnas.config import load_config
from hybridnas.errors import UserError
from hybridnas.evaluate.base import Evaluator, evaluate_candidate
from hybridnas.evaluate.folds import Folds
from hybridnas.training import TrainSettings
from tests.conftest import TINY, population


def test_folds_partition_train_and_val_stratified(digits):
    folds = list(Folds(3, seed=5).datasets(digits))
    assert len(folds) == 3
    pool = torch.cat([digits.train.x, digits.val.x])
    n = len(pool)
    assert sum(len(f.val) for f in folds) == n and all(len(f.train) + len(f.val) == n for f in folds)
    seen = torch.cat([f.val.x.flatten(1) for f in folds])
    assert torch.equal(torch.sort(seen.sum(1)).values, torch.sort(pool.flatten(1).sum(1)).values)  # each image once
    counts = torch.stack([torch.bincount(f.val.y, minlength=10) for f in folds])
    assert int((counts.max(0).values - counts.min(0).values).max()) <= 1  # stratified: classes spread evenly
    assert all(torch.equal(f.test.x, digits.test.x) for f in folds)  # the test split is untouched
    again = list(Folds(3, seed=5).datasets(digits))
    assert all(torch.equal(a.val.y, b.val.y) for a, b in zip(folds, again))  # the same parts every time


def test_a_candidate_is_validated_on_every_train_and_val_image():
    cfg, data, cands = population(["evaluation.epochs=1", "evaluation.folds=3"], n=1)
    with Evaluator(cfg, data, torch.device("cpu")) as ev:
        [r] = ev.evaluate_batch(cands)
    assert r["status"] == "ok" and r["folds"] == 3 and len(r["fold_val_acc"]) == 3
    assert r["val_n"] == len(data.train) + len(data.val) and r["test_n"] == len(data.test)
    one = evaluate_candidate(cands[0], data, TrainSettings.from_eval(cfg.evaluation), "cpu")
    assert r["val_acc_se"] < one["val_acc_se"]  # more images validated: a smaller error bar
    assert isinstance(r["state"], dict) and r["state"]  # the first fold's network is kept


def test_folds_are_checked():
    with pytest.raises(UserError, match="evaluation.folds"):
        load_config(TINY, ["evaluation.folds=0"])
    with pytest.raises(UserError, match="evaluation.fidelity.budgets"):
        load_config(TINY, ["evaluation.folds=3", "evaluation.fidelity.budgets=[1]", "evaluation.epochs=2"])
    cfg, data, _ = population(["evaluation.folds=500"], n=1)
    with pytest.raises(UserError, match="lower evaluation.folds to at most"):
        Evaluator(cfg, data, torch.device("cpu"))
