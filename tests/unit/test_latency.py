"""Latency: the timing routine, the per-block table (structure, caching in the run), laziness."""

import json

import pytest

from hybridnas.errors import UserError
from hybridnas.space.genome import ArchSpec, Genome
from hybridnas.space.genotype import BlockGenotype
from hybridnas.space.latency import LatencyTable, _components, time_call
from hybridnas.store import RunStore
from hybridnas.store.layout import LATENCY_LUT as LUT
from tests.conftest import TINY_BLOCKS, run_network_stage

BLOCKS = tuple(BlockGenotype.parse(b) for b in TINY_BLOCKS)


def spec(text):
    return ArchSpec(Genome.parse(text), BLOCKS, 4, 2, 1, 10, (8, 8))


def test_time_call_is_the_median_after_warmup():
    calls = []
    ms = time_call(lambda: calls.append(1), "cpu", warmup=3, repeats=5)
    assert len(calls) == 8 and 0 <= ms < 10


def test_components_are_stem_cells_head_and_shared_between_genomes():
    a = _components(spec("stem16-r2b0w1d0-r1b1w1d1"))
    assert [kind for _, kind, _ in a] == ["stem", "cell", "cell", "cell", "head"]
    # the same first stage on the same stem is the same entries; the stem differs with its width
    b = _components(spec("stem16-r2b0w1d0-r1b0w1d1"))
    assert [k for k, _, _ in a][:3] == [k for k, _, _ in b][:3] and a[3][0] != b[3][0]
    assert a[0][0] != _components(spec("stem4-r2b0w1d0-r1b1w1d1"))[0][0]


def test_table_predicts_the_sum_caches_in_the_run_and_refuses_another_device(tmp_path):
    store = RunStore(tmp_path)
    lut = LatencyTable(store, "cpu", batch_size=2, warmup=1, repeats=3)
    s = spec("stem16-r2b0w1d0-r1b1w1d1")
    ms = lut.predict(s)
    assert lut.measured == 5 and ms == pytest.approx(sum(lut.entries[k] for k, _, _ in _components(s)))
    saved = json.loads((tmp_path / LUT).read_text())
    assert saved["batch_size"] == 2 and saved["method"] == "time.perf_counter" and len(saved["entries"]) == 5
    # a genome sharing its first stage measures only what is new; a second table reads the run's
    lut.predict(spec("stem16-r2b0w1d0-r1b0w1d1"))
    assert lut.measured == 6  # one new reduction cell; stem, first stage and head are shared
    again = LatencyTable(store, "cpu", batch_size=2, warmup=1, repeats=3)
    assert again.predict(s) == ms and again.measured == 0
    with pytest.raises(UserError, match="measured on .* at batch 2, but this process measures on .* at batch 1"):
        LatencyTable(store, "cpu", batch_size=1)
    saved["device"] = "cuda:Some GPU"
    (tmp_path / LUT).write_text(json.dumps(saved))
    with pytest.raises(UserError, match="resume on the same device"):
        LatencyTable(store, "cpu", batch_size=2)


@pytest.mark.parametrize("asked", [False, True])
def test_latency_is_measured_only_when_asked(tmp_path, asked):
    over = ["engine.pop_size=4", "engine.generations=1"]
    if asked:
        over += ["objectives=[error, params, latency]", "constraints.max_latency_ms=1000", "latency.repeats=3",
                 "latency.warmup=1"]
    store, stage, _ = run_network_stage(tmp_path, over)
    records = store.records("evaluations.jsonl")
    assert records
    if not asked:
        assert not (tmp_path / LUT).exists() and all("latency" not in r for r in records)
        assert stage.problem.points.latency is None
        return
    lut = LatencyTable(store, "cpu", batch_size=1)
    assert lut.measured == 0 and lut.entries
    for r in records:  # a record's latency is its genome's sum of table entries
        s = stage.problem.points.arch(stage.problem.points.space.encode(Genome.parse(r["genome"])))
        assert r["latency"] == pytest.approx(lut.predict(s))
    ref = json.loads((tmp_path / "hv_reference.json").read_text())
    assert ref["objectives"] == ["error", "params", "latency"] and ref["lower"][2] > 0
