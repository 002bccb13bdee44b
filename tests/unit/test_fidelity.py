"""Multi-fidelity: the promotion rule, the budgets a config gives, and continued training."""

import pytest

from hybridnas.config import load_config
from hybridnas.errors import UserError
from hybridnas.network.fidelity import budgets, promote
from tests.conftest import TINY


def rec(aid, *objectives):
    return {"arch_id": aid, "objectives": objectives}


def row(r):
    return r["objectives"]


def test_only_candidates_non_dominated_in_the_rung_archive_move_up():
    archive = [
        rec("old", 0.10, 100),  # from an earlier generation, same budget
        rec("a", 0.20, 50),     # non-dominated: cheapest so far
        rec("b", 0.15, 200),    # dominated by "old"
        rec("c", 0.05, 300),    # non-dominated: most accurate
    ]
    assert sorted(promote(["a", "b", "c"], archive, row, fraction=1.0)) == ["a", "c"]
    # "old" is not a candidate of this generation: never promoted, though on the front
    assert "old" not in promote(["a", "b", "c"], archive, row, fraction=1.0)


def test_cap_keeps_the_most_isolated_and_is_reproducible():
    # five non-dominated candidates on a line; at most ceil(0.4 * 5) = 2 move up: the two extremes
    archive = [rec(k, i / 4, 1 - i / 4) for i, k in enumerate("edcba")]
    up = promote(list("abcde"), archive, row, fraction=0.4)
    assert sorted(up) == ["a", "e"]
    assert promote(list("abcde"), list(reversed(archive)), row, fraction=0.4) == up
    # at least one moves up, however small the fraction
    assert len(promote(list("abcde"), archive, row, fraction=0.01)) == 1


def test_nothing_moves_up_when_everything_is_dominated_by_earlier_generations():
    archive = [rec("old", 0.0, 1), rec("a", 0.5, 2), rec("b", 0.6, 3)]
    assert promote(["a", "b"], archive, row, fraction=1.0) == []


def test_budgets_and_their_validation():
    cfg = load_config(TINY, ["evaluation.epochs=8", "evaluation.fidelity.budgets=[2, 4]"])
    assert budgets(cfg.evaluation) == (2, 4, 8)
    assert budgets(load_config(TINY).evaluation) == (1,)
    for bad, match in [
        ("evaluation.fidelity.budgets=[4, 2]", "must increase"),
        ("evaluation.fidelity.budgets=[8]", "stay below evaluation.epochs"),
        ("evaluation.fidelity.budgets=[0]", r"budgets\[0\]' must be > 0"),
        ("evaluation.fidelity.promote=0", "promote' must be in"),
        ("evaluation.fidelity.rungs=[2]", "unknown key 'evaluation.fidelity.rungs'"),
    ]:
        with pytest.raises(UserError, match=match):
            load_config(TINY, ["evaluation.epochs=8", bad])


def test_continued_training_equals_training_from_scratch():
    """A rung keeps model and optimizer state on the top budget's schedule: continuing it to the
    top budget gives the very network a single-fidelity training gives (bit-identical on CPU)."""
    import torch

    from hybridnas.config import DataConfig
    from hybridnas.data import load_dataset
    from hybridnas.evaluate.base import evaluate_candidate
    from hybridnas.evaluate.candidate import Candidate
    from hybridnas.space.genome import ArchSpec, Genome
    from hybridnas.space.genotype import BlockGenotype
    from hybridnas.training import TrainSettings

    block = BlockGenotype.parse("normal:sep_conv_3x3@0+skip_connect@1;reduce:max_pool_3x3@0+sep_conv_3x3@1")
    spec = ArchSpec(Genome.parse("stem8-r1b0w0.5d0-r1b0w0.5d1"), (block,), 8, 1, 1, 10, (8, 8))
    digits = load_dataset(DataConfig(dataset="digits", subset=300), seed=0)
    s = TrainSettings(epochs=3, batch_size=128)
    scratch = evaluate_candidate(Candidate(spec.arch_id, spec.to_json(), 3, 7), digits, s, "cpu")
    low = evaluate_candidate(Candidate(spec.arch_id, spec.to_json(), 1, 7, schedule=3, checkpoint=True), digits, s,
                             "cpu")
    assert low["checkpoint"]["epoch"] == 1 and low["trained_epochs"] == 1 and low["schedule_epochs"] == 3
    high = evaluate_candidate(Candidate(spec.arch_id, spec.to_json(), 3, 7, schedule=3, start=low["checkpoint"]),
                              digits, s, "cpu")
    assert high["trained_epochs"] == 2
    assert high["val_acc"] == scratch["val_acc"] and high["test_acc"] == scratch["test_acc"]
    for k, v in scratch["state"].items():
        assert torch.equal(v, high["state"][k]), k
