"""The network stage's budget, history, surrogate records, extension on resume and HV bounds."""

import json

import numpy as np
import pytest
import yaml

from hybridnas.cli.main import main

PLAIN = ["engine.surrogate.enabled=false"]


def cli(*args):
    return main([str(a) for a in args])


def records(run):
    return [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]


def search(tmp_path, name, *sets):
    args = ["search", "digits_table", "--out", tmp_path, "--name", name, "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert cli(*args) == 0
    return tmp_path / name


@pytest.mark.parametrize("mode", [["engine.name=pymoo", *PLAIN], ["engine.name=deap", *PLAIN], ["engine.name=pymoo"]],
                         ids=["pymoo", "deap", "surrogate"])
def test_the_budget_counts_distinct_networks_and_the_summary_reports_proposals(tmp_path, mode):
    run = search(tmp_path, "b", "engine.generations=null", "engine.evaluations=37", *mode)
    recs = records(run)
    ids = [r["arch_id"] for r in recs]
    assert len(ids) == len(set(ids)) == 37
    assert all(len(r["x"]) == 7 for r in recs)  # every record carries its gene vector
    s = json.loads((run / "summary.json").read_text())
    assert s["distinct_evaluations"] == 37 and s["budget"] == 37 and s["proposed"] >= 37
    assert s["surrogate"] == ("engine.surrogate.enabled=false" not in mode)
    gens = sorted((run / "generations").glob("gen_*.json"))
    last = json.loads(gens[-1].read_text())
    assert last["distinct_evaluations"] == 37
    assert sum(json.loads(g.read_text())["proposed"] for g in gens) == s["proposed"]


@pytest.mark.parametrize("mode", [PLAIN, []], ids=["pymoo", "surrogate"])
def test_a_resume_extends_a_finished_search_replaying_what_it_did(tmp_path, mode, capsys):
    ref = search(tmp_path, "ref", "engine.generations=null", "engine.evaluations=40", *mode)
    run = search(tmp_path, "ext", "engine.generations=null", "engine.evaluations=20", *mode)
    first = records(run)
    assert len(first) == 20
    capsys.readouterr()
    assert cli("search", "--resume", run, "--set", "engine.evaluations=40") == 0
    out, err = capsys.readouterr()
    assert "extending run" in err and "engine.evaluations 20 -> 40" in err
    after = records(run)
    assert after[:20] == first, "a finished evaluation was redone or changed"
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("seconds",)} for r in rs]
    assert strip(after) == strip(records(ref))  # the same search as one that was given 40 from the start
    assert yaml.safe_load((run / "config.yaml").read_text())["engine"]["evaluations"] == 40
    assert json.loads((run / "summary.json").read_text())["extended"] == {"engine.evaluations": [20, 40]}


def test_more_generations_on_resume_continue_from_the_last_population(tmp_path):
    ref = search(tmp_path, "ref", "engine.generations=5", *PLAIN)
    run = search(tmp_path, "ext", "engine.generations=3", *PLAIN)
    n = len(records(run))
    assert cli("search", "--resume", run, "--quiet", "--set", "engine.generations=5") == 0
    assert [r["arch_id"] for r in records(run)] == [r["arch_id"] for r in records(ref)]
    assert len(records(run)) > n
    assert len(list((run / "generations").glob("gen_*.json"))) == 5
    assert (json.loads((run / "front.json").read_text())["members"]
            == json.loads((ref / "front.json").read_text())["members"])


@pytest.mark.parametrize("sets, says", [
    (["engine.pop_size=20"], "--set engine.pop_size cannot change a run being resumed"),
    (["engine.generations=2"], "would stop the resumed search earlier than it was set to (3)"),
    (["engine.evaluations=50"], "would stop the resumed search earlier than it was set to (no limit)"),
    (["engine.generations=5", "seed=3"], "--set seed cannot change a run being resumed"),
])
def test_a_resume_may_only_raise_the_length_of_the_search(tmp_path, capsys, sets, says):
    run = search(tmp_path, "r", "engine.generations=3", *PLAIN)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    args = ["search", "--resume", run, "--quiet"]
    for s in sets:
        args += ["--set", s]
    assert cli(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_surrogate_records_carry_predictions_and_each_iteration_its_rank_correlation(tmp_path):
    run = search(tmp_path, "s", "engine.generations=4")
    recs = records(run)
    design = [r for r in recs if r["generation"] == 0]
    later = [r for r in recs if r["generation"] > 0]
    assert len(design) == 12 and all(r["selected_by"] == "design" and "predicted" not in r for r in design)
    assert later and all(set(r["predicted"]) == {"error"} and r["predicted_std"]["error"] >= 0 for r in later)
    assert all(r["predictor"]["error"] in ("gp", "rf", "extra_trees", "ridge") for r in later)
    # the acquisition and the front's neighbours choose (the old optimistic "explore" share is gone)
    assert ({r["selected_by"] for r in later} <= {"ehvi", "local", "best", "random"}
            and "ehvi" in {r["selected_by"] for r in later})
    for g in range(1, 4):
        it = json.loads((run / "surrogate" / f"iter_{g:03d}.json").read_text())
        assert it["phase"] == "surrogate" and it["train_size"] == 12 * g
        assert set(it["cv_kendall_tau"]["error"]) == {"gp", "rf", "extra_trees", "ridge"}
        batch = [r for r in recs if r["generation"] == g]
        assert [b["arch_id"] for b in it["batch"]] == [r["arch_id"] for r in batch]
        q = it["batch_quality"]["error"]
        assert q["n"] == len(batch) and -1 <= q["kendall_tau"] <= 1 and q["rmse"] >= 0
        assert 0 <= q["within_1_spread"] <= q["within_2_spreads"] <= 1  # calibration, per batch
        assert it["spread_calibration"]["error"] > 0
        for b, r in zip(it["batch"], batch):
            assert b["actual"]["error"] == pytest.approx(1 - r["val_acc"]) and b["predicted"] == r["predicted"]
    gen = json.loads((run / "generations" / "gen_002.json").read_text())
    assert gen["surrogate"]["train_size"] == 24


@pytest.mark.parametrize("mode", [PLAIN, []], ids=["pymoo", "surrogate"])
def test_a_search_stopped_midway_resumes_without_repeating_a_network(tmp_path, monkeypatch, mode):
    """The search stops (an exception, as a kill would) after its 30th lookup; the resume
    replays, looks up nothing twice, and ends where an uninterrupted search ends."""
    from hybridnas.evaluate.table import TableEvaluator

    ref = records(search(tmp_path, "ref", "engine.generations=null", "engine.evaluations=45", *mode))
    real = TableEvaluator._run
    seen = []

    class Killed(Exception):
        pass

    def dying(self, candidates, done):
        def counted(c, result):
            if len(seen) == 30:
                raise Killed
            seen.append(c.arch_id)
            done(c, result)

        real(self, candidates, counted)

    monkeypatch.setattr(TableEvaluator, "_run", dying)
    with pytest.raises(Killed):
        search(tmp_path, "k", "engine.generations=null", "engine.evaluations=45", *mode)
    monkeypatch.setattr(TableEvaluator, "_run", real)
    run = tmp_path / "k"
    assert len(records(run)) == 30
    assert cli("search", "--resume", run, "--quiet") == 0
    ids = [r["arch_id"] for r in records(run)]
    assert len(ids) == len(set(ids)) == 45
    assert ids == [r["arch_id"] for r in ref]
    assert json.loads((run / "summary.json").read_text())["distinct_evaluations"] == 45


def test_hypervolume_lower_bounds_are_the_smallest_network_of_the_library(tmp_path):
    from hybridnas.config import load_config
    from hybridnas.data import load_dataset
    from hybridnas.network.points import NetworkPoints
    from hybridnas.network.stage import NetworkStage
    from hybridnas.space.costs import smallest_cost
    from hybridnas.store import RunStore
    from tests.conftest import TINY, tiny_library

    cfg = load_config(TINY)
    data = load_dataset(cfg.data, cfg.seed)
    store = RunStore(tmp_path / "run")
    store.ensure_writable()
    points = NetworkPoints(cfg, tiny_library(), data)
    stage = NetworkStage(cfg, points, None, store)
    ref = json.loads((tmp_path / "run" / "hv_reference.json").read_text())
    least = smallest_cost(cfg.network, cfg.cell.nodes, data.in_chans, data.num_classes, tuple(data.image_size),
                          points.blocks)
    lower = dict(zip(ref["objectives"], ref["lower"]))
    assert lower["params"] == least.params and lower["flops"] == least.flops
    # no network of the space is below the bound, and the smallest reaches it: nothing is clipped
    X = points.spec.sample(np.random.default_rng(0), 3000)
    costs = [points.analytic(points.arch(x)) for x in X]
    assert min(c["params"] for c in costs) >= least.params and min(c["flops"] for c in costs) >= least.flops
    assert stage.reference == ref
