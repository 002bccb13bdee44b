"""Pick rules on fronts whose right answer is known, and the parsing of preferences."""

import numpy as np
import pytest

from hybridnas.analysis.pick import (
    _knee_order,
    _rank_asf,
    _rank_high_tradeoff,
    _rank_pseudo_weights,
    parse_targets,
)
from hybridnas.errors import UserError
from tests.conftest import TINY

NAMES = ["error", "params", "flops"]


def front(rows):
    """(accuracy, params, flops) rows -> the minimised, log-scaled matrix pick ranks on."""
    return np.array([[1 - a, np.log10(p), np.log10(f)] for a, p, f in rows])


ROWS = [  # a 3-objective front: accuracy rises with cost
    (0.90, 1_000, 1e5),
    (0.95, 3_000, 4e5),
    (0.97, 10_000, 2e6),
    (0.98, 30_000, 8e6),
    (0.985, 100_000, 3e7),
]


def test_asf_picks_the_model_closest_to_the_aspiration():
    F = front(ROWS)
    order, scores = _rank_asf(F, NAMES, {"acc": 0.97, "flops": 2e6})
    assert order[0] == 2 and scores[2] == pytest.approx(0.0, abs=1e-12)  # meets it exactly
    # an aspiration several models attain: the one that exceeds it most (Wierzbicki's ASF)
    order, scores = _rank_asf(F, NAMES, {"acc": 0.95})
    assert order[0] == 4 and all(scores[i] <= 0 for i in (1, 2, 3, 4)) and scores[0] > 0
    order, _ = _rank_asf(F, NAMES, {"flops": 1e5})
    assert order[0] == 0


def test_asf_over_achievers_rank_by_margin_not_by_unnamed_objectives():
    # both meet acc 0.9; model 1 exceeds it by more, though it has more params
    F = front([(0.91, 1_000, 1e5), (0.99, 5_000, 1e5)])
    order, scores = _rank_asf(F, NAMES, {"acc": 0.9})
    assert order == [1, 0] and scores[1] < scores[0] <= 0


def test_pseudo_weights_follow_the_weights():
    F = front(ROWS)
    assert _rank_pseudo_weights(F, NAMES, {"acc": 1.0})[0][0] == 4
    assert _rank_pseudo_weights(F, NAMES, {"params": 1.0})[0][0] == 0
    order, dist, pw = _rank_pseudo_weights(F, NAMES, {"acc": 1.0, "params": 1.0, "flops": 1.0})
    assert np.allclose(pw.sum(1), 1.0) and 0 < order[0] < 4  # balanced weights: a middle model


def test_knee_and_high_tradeoff_find_an_obvious_knee():
    # a 2-objective front of two straight pieces meeting in a sharp knee at (0.1, 0.1)
    steep = [[x, 1 - 9 * x] for x in np.linspace(0, 0.1, 6)[:-1]]
    flat = [[x, 0.1 - 0.1 * (x - 0.1) / 0.9] for x in np.linspace(0.1, 1, 10)]
    F = np.array(steep + flat)
    knee = len(steep)
    assert _knee_order(F)[0] == knee
    order, flagged = _rank_high_tradeoff(F)
    assert flagged == [knee] and order[0] == knee
    assert sorted(order) == list(range(len(F)))


def test_parse_targets():
    assert parse_targets("acc=0.98, flops=2e6", "--prefer") == {"acc": 0.98, "flops": 2e6}
    assert parse_targets({"params": 5000}, "--prefer") == {"params": 5000.0}
    for bad, msg in (("acc", "key=value"), ("speed=3", "not an objective"), ("acc=x", "not a number"),
                     ("acc=98", "fraction"), ("acc=0.9,error=0.1", "one objective"), (",", "empty"),
                     ("flops=-1", ">= 0")):
        with pytest.raises(UserError, match=msg):
            parse_targets(bad, "--prefer")


def test_parse_targets_refuses_repeats_zero_weights_and_non_fractions():
    for text, what, msg in (("acc=0.98,acc=0.5", "--prefer", "acc twice; give each objective once"),
                            ("params=1,params=2", "--weights", "params twice"),
                            ("acc=0,params=0", "--weights", "all zero; give at least one"),
                            ("acc=1.5", "--prefer", r"fraction in \[0, 1\]; give e.g. 0.98"),
                            ("flops=nan", "--weights", "finite"), ("flops=1e309", "--weights", "finite"),
                            ("flops=-1", "--weights", ">= 0; write e.g.")):
        with pytest.raises(UserError, match=msg):
            parse_targets(text, what)
    assert parse_targets("acc=0,params=1", "--weights") == {"acc": 0.0, "params": 1.0}


def test_parse_targets_checks_mappings_as_strings():  # the Python API passes dicts
    for mapping, what, msg in (({"acc": 0, "params": 0.0}, "--weights", "all zero"),
                               ({"acc": 98}, "--prefer", "fraction"),
                               ({"flops": float("inf")}, "--prefer", "finite"),
                               ({"params": -2}, "--weights", ">= 0")):
        with pytest.raises(UserError, match=msg):
            parse_targets(mapping, what)


def test_pseudo_weights_do_not_depend_on_the_scale_of_the_weights():
    F = front(ROWS)
    small = _rank_pseudo_weights(F, NAMES, {"flops": 1.0, "params": 1.0})
    for scale in (1e308, 1e-300):
        big = _rank_pseudo_weights(F, NAMES, {"flops": scale, "params": scale})
        assert big[0] == small[0] and np.allclose(big[1], small[1]) and np.allclose(big[2], small[2])


# ---------------------------------------------------------------- picks on a run with known records


def _run_with(tmp_path, records, overrides=()):
    """A run directory holding the tiny space's config and these evaluation records."""
    from hybridnas.config import dump_yaml, load_config
    from hybridnas.pipeline import manifest
    from hybridnas.store import RunStore
    from hybridnas.store.layout import EVALS

    cfg = load_config(TINY, list(overrides))
    store = RunStore(tmp_path / "run")
    store.ensure_writable()
    store.write_text("config.yaml", dump_yaml(cfg))
    store.write_json("manifest.json", manifest(cfg, "cpu"))
    for i, (acc, params, flops, latency) in enumerate(records):
        store.append(EVALS, {"arch_id": f"m{i}", "genome": f"g{i}", "status": "ok", "epochs": cfg.evaluation.epochs,
                             "val_acc": acc, "test_acc": acc, "params": params, "macs": flops // 2, "flops": flops,
                             "latency": latency})
    return store.root


# latency is measured for a constraint, not an objective: m2 is dominated by m0 but the fastest
LATENCY_RUN = [(0.95, 1000, 100_000, 5.0), (0.97, 2000, 200_000, 8.0), (0.94, 1500, 150_000, 1.0)]


def test_a_latency_limit_on_a_non_objective_can_pick_a_model_off_the_front(tmp_path):
    from hybridnas.analysis.pick import pick
    from hybridnas.results import RunResults

    root = _run_with(tmp_path, LATENCY_RUN, ["constraints.max_latency_ms=10"])
    assert {r["arch_id"] for r in RunResults(root).front()} == {"m0", "m1"}
    [chosen] = pick(root, max_latency=2)
    assert chosen["arch_id"] == "m2" and chosen["on_front"] is False
    # among the models that meet the limit, a dominated one still loses to the one dominating it
    assert [r["arch_id"] for r in pick(root, rule="max-acc", max_latency=6, n=3)] == ["m0"]
    # limits on objectives filter the front as before
    assert [r["arch_id"] for r in pick(root, rule="max-acc", max_params=1800, n=3)] == ["m0"]


def test_a_limit_nothing_meets_names_the_nearest_evaluated_models(tmp_path):
    from hybridnas.analysis.pick import pick

    root = _run_with(tmp_path, LATENCY_RUN, ["constraints.max_latency_ms=10"])
    with pytest.raises(UserError, match=r"no evaluated model meets max_latency=0.5; nearest: m2 \(1,500 params"):
        pick(root, max_latency=0.5)


def test_pick_n_records_only_the_chosen_model(tmp_path):
    from hybridnas.analysis.pick import pick
    from hybridnas.results import RunResults

    root = _run_with(tmp_path, [(0.90, 1000, 100_000, None), (0.95, 3000, 400_000, None), (0.98, 30_000, 8e6, None)])
    listed = pick(root, rule="max-acc", n=3)
    assert [r["arch_id"] for r in listed] == ["m2", "m1", "m0"]
    [entry] = RunResults(root).picks()
    assert entry["arch_ids"] == ["m2"] and entry["listed"] == ["m2", "m1", "m0"]
