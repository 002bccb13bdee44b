"""Accuracies with their standard errors, and front members marked when noise hides their gain."""

import math

import pytest

from hybridnas.core.uncertainty import (
    NOISE_MARK,
    differ,
    fill_standard_errors,
    mark_within_noise,
    noise_note,
    standard_error,
)


def test_standard_error_of_an_accuracy():
    # mid-range: close to the binomial sqrt(p (1 - p) / n)
    assert standard_error(0.9, 1000) == pytest.approx(math.sqrt(0.9 * 0.1 / 1000), rel=0.05)
    # 100 % on 359 images is not exact: the error bar is about 0.4 %, not zero
    assert 0.003 < standard_error(1.0, 359) < 0.005
    assert standard_error(0.97, 2000) < standard_error(0.97, 359)  # more images, less noise
    assert math.isnan(standard_error(0.5, 0))


def test_old_records_get_their_standard_error_from_the_split_sizes():
    old = {"arch_id": "a", "val_acc": 0.98, "test_acc": 0.97}
    r = fill_standard_errors(old, {"val": 359, "test": 359})
    assert r["val_n"] == 359 and r["val_acc_se"] == pytest.approx(standard_error(0.98, 359))
    assert r["test_acc_se"] == pytest.approx(standard_error(0.97, 359)) and "val_acc_se" not in old
    new = {"val_acc": 0.5, "val_n": 100, "val_acc_se": 0.05}
    assert fill_standard_errors(new, {"val": 359}) == new  # a record's own numbers win
    assert fill_standard_errors({"val_acc": 0.5}, {}) == {"val_acc": 0.5}  # no size known: nothing made up


def test_members_within_noise_of_a_cheaper_one_are_marked():
    se = 0.01
    front = [
        {"arch_id": "a", "params": 1000, "flops": 1e5, "val_acc": 0.950, "val_acc_se": se},
        {"arch_id": "b", "params": 2000, "flops": 2e5, "val_acc": 0.960, "val_acc_se": se},  # +1 %: noise
        {"arch_id": "c", "params": 3000, "flops": 3e5, "val_acc": 0.990, "val_acc_se": se / 2},  # +3-4 %: real
        {"arch_id": "d", "params": 1500, "flops": 5e4, "val_acc": 0.955, "val_acc_se": se},  # fewer FLOPs than a
    ]
    marked = {r["arch_id"]: r.get(NOISE_MARK) for r in mark_within_noise(front, ["params", "flops"])}
    # b costs more than a (and d) in every objective and is not significantly more accurate than the
    # cheapest of them; d is cheaper than a in FLOPs, so nothing costs no more than d: unmarked
    assert marked == {"a": None, "b": "a", "c": None, "d": None}
    assert NOISE_MARK not in front[1]  # the input is not changed
    # with params alone as the cost, d is within noise of a
    assert {r["arch_id"]: r.get(NOISE_MARK) for r in mark_within_noise(front, ["params"])}["d"] == "a"
    assert differ(0.99, se / 2, 0.96, se) and not differ(0.96, se, 0.95, se)
    note = noise_note(mark_within_noise(front, ["params", "flops"]))
    assert "1 of 4 front members" in note and "0.50-1.00 %" in note


def test_records_without_standard_errors_are_never_marked():
    front = [{"arch_id": "a", "params": 1, "val_acc": 0.5}, {"arch_id": "b", "params": 2, "val_acc": 0.51}]
    assert all(NOISE_MARK not in r for r in mark_within_noise(front, ["params"]))
    assert noise_note(front) is None
