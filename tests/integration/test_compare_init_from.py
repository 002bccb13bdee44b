"""``hybridnas compare`` and ``hybridnas search --init-from`` on one tiny source run.

The source searches; a second run starts from it with the same evaluation settings (its
evaluations are copied, nothing is trained twice) and a third with another learning rate (the
library is reused, the seeds are trained once, in the new run). ``compare`` then overlays them."""

import json
import shutil

import pytest
import yaml

from hybridnas.cli.main import main
from tests.conftest import TINY


def cli(*args):
    return main([str(a) for a in args])


def evaluations(run):
    return [json.loads(l) for l in (run / "evaluations.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert cli("search", TINY, "--out", out, "--name", "src", "--quiet", "--no-export") == 0
    assert cli("search", TINY, "--out", out, "--name", "same", "--quiet", "--no-export", "--init-from", out / "src",
               "--set", "engine.generations=4") == 0
    assert cli("search", TINY, "--out", out, "--name", "lr", "--quiet", "--no-export", "--init-from", out / "src",
               "--set", "evaluation.lr=0.04") == 0
    return out


def front_ids(run):
    return [m["arch_id"] for m in json.loads((run / "front.json").read_text())["members"]]


def test_init_from_seeds_generation_0_and_trains_nothing_twice(runs):
    src, new = runs / "src", runs / "same"
    info = json.loads((new / "init_from.json").read_text())
    assert info["library"] == "reused" and info["evaluations"] == "copied"
    assert (new / "blocks.json").read_bytes() == (src / "blocks.json").read_bytes()
    seeds = info["seed_ids"]
    assert seeds and set(seeds) <= set(front_ids(src))
    gen0 = json.loads((new / "generations" / "gen_000.json").read_text())
    assert set(seeds) <= {m["arch_id"] for m in gen0["population"]}
    recs = evaluations(new)
    ids = [r["arch_id"] for r in recs]
    assert len(ids) == len(set(ids)), "a network is in the new run twice"
    copied = {r["arch_id"] for r in recs if r.get("copied_from")}
    trained = {r["arch_id"] for r in recs if not r.get("copied_from")}
    assert copied == set(info["copied_ids"]) and set(seeds) <= copied
    assert trained and not trained & {r["arch_id"] for r in evaluations(src)}, "a source network was trained again"
    src_acc = {r["arch_id"]: r["val_acc"] for r in evaluations(src)}
    assert all(r["val_acc"] == src_acc[r["arch_id"]] and r["generation"] == -1 for r in recs if r.get("copied_from"))
    # a resume replays the same decisions and trains nothing
    assert cli("search", "--resume", new, "--quiet", "--no-export") == 0
    assert evaluations(new) == recs


def test_init_from_with_other_settings_trains_the_seeds_once_in_the_new_run(runs):
    new = runs / "lr"
    info = json.loads((new / "init_from.json").read_text())
    assert info["library"] == "reused" and info["evaluations"] == "not copied"
    assert "evaluation.lr" in info["evaluations_why"] and info["copied_ids"] == []
    recs = evaluations(new)
    ids = [r["arch_id"] for r in recs]
    assert len(ids) == len(set(ids)) and not any(r.get("copied_from") for r in recs)
    assert set(info["seed_ids"]) <= {r["arch_id"] for r in recs if r["generation"] == 0}


def test_init_from_a_missing_run_is_one_line_and_leaves_nothing(runs, capsys):
    assert cli("search", TINY, "--out", runs, "--name", "bad", "--quiet", "--init-from", runs / "nope") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "nope" in err
    assert not (runs / "bad").exists()


def test_compare_overlays_fronts_with_hypervolumes_on_a_common_reference(runs, tmp_path, capsys):
    from hybridnas.analysis.compare import common_reference
    from hybridnas.core.objectives import front_hypervolume
    from hybridnas.results import RunResults

    out = tmp_path / "cmp"
    assert cli("compare", runs / "src", runs / "same", "--out", out, "--json") == 0
    stdout, err = capsys.readouterr()
    result = json.loads(stdout)
    rows = {r["run"]: r for r in result["runs"]}
    assert set(rows) == {"src", "same"} and "HV" in err
    refs = [json.loads((runs / n / "hv_reference.json").read_text()) for n in ("src", "same")]
    ref = common_reference(refs)
    for name in ("src", "same"):
        front = RunResults(runs / name).front()
        assert rows[name]["front_size"] == len(front)
        assert rows[name]["hypervolume"] == pytest.approx(front_hypervolume(front, ref))
        assert rows[name]["best_val_acc"] == max(m["val_acc"] for m in front)
    # the continued search holds the source's front, so its front dominates at least as much
    assert rows["same"]["hypervolume"] >= rows["src"]["hypervolume"] - 1e-12
    assert (out / "compare.png").stat().st_size > 10_000 and (out / "compare.csv").read_text().startswith("run,")
    assert json.loads((out / "compare.json").read_text())["runs"] == result["runs"]


def test_compare_refuses_runs_with_other_objectives(runs, tmp_path, capsys):
    other = tmp_path / "two"
    shutil.copytree(runs / "src", other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["objectives"] = ["error", "params"]
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert cli("compare", runs / "src", other, "--out", tmp_path / "cmp") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "different objectives" in err
    assert not (tmp_path / "cmp").exists()
