"""``hybridnas export-study``: a run's evaluations as an Optuna study in a journal file, loaded back
with Optuna: one trial per network with the run's objectives and directions, genes as params,
arch id and genome as user attributes, the study's best trials equal to the run's front; networks
stopped at a lower budget are pruned trials, failed ones failed trials; an existing study of the
same name (or a file that is not a journal) is refused in one line and left as it was."""

from __future__ import annotations

import json

import pytest

from hybridnas.cli.main import main
from hybridnas.results import RunResults
from tests.conftest import TINY

optuna = pytest.importorskip("optuna")


def cli(*args):
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    base = ["search", TINY, "--out", out, "--quiet", "--no-export"]
    # multi-fidelity: networks stopped after 1 of 2 epochs become pruned trials
    assert cli(*base, "--name", "mf", "--set", "evaluation.epochs=2", "--set", "evaluation.fidelity.budgets=[1]",
               "--set", "engine.generations=2") == 0
    # every first loss (~2.3) is above max_loss: every network fails
    assert cli(*base, "--name", "failed", "--set", "evaluation.max_loss=2.0", "--set", "engine.generations=1") == 0
    return out


def load(path, name):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def test_the_study_has_every_network_and_the_runs_front(runs, tmp_path, capsys):
    from optuna.trial import TrialState

    from hybridnas.space.genome import GenomeSpace

    run, journal = runs / "mf", tmp_path / "journal.log"
    assert cli("export-study", run, "--storage", journal) == 0
    assert capsys.readouterr().out.startswith(f"study 'mf' in {journal}: ")
    study = load(journal, "mf")
    results = RunResults(run)
    assert [d.name for d in study.directions] == ["MINIMIZE"] * 3 and study.metric_names == ["error", "params", "flops"]

    records = results.records(status=None, budget="all")
    top = {r["arch_id"]: r for r in records if r["epochs"] == 2}
    ids = list(dict.fromkeys(r["arch_id"] for r in records))
    assert [t.user_attrs["arch_id"] for t in study.trials] == ids  # one trial per network, in order
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert {t.user_attrs["arch_id"] for t in done} == set(top) and len(done) + len(pruned) == len(ids)
    assert pruned and all(list(t.intermediate_values) == [1] for t in pruned)  # stopped after the 1-epoch rung

    assert sorted(t.user_attrs["arch_id"] for t in study.best_trials) == sorted(r["arch_id"] for r in results.front())
    space = GenomeSpace(results.config.network, len(results.library))
    for t in done:
        r = top[t.user_attrs["arch_id"]]
        assert t.values == pytest.approx([1 - r["val_acc"], r["params"], r["flops"]])
        assert t.user_attrs["genome"] == r["genome"]
        assert space.decode(space.spec.encode(t.params)).to_string() == r["genome"]  # the genes, as params


def test_an_existing_study_is_refused_and_another_name_is_added(runs, tmp_path, capsys):
    journal = tmp_path / "journal.log"
    assert cli("export-study", runs / "mf", "--storage", journal) == 0
    before = journal.read_bytes()
    capsys.readouterr()
    assert cli("export-study", runs / "mf", "--storage", journal) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hybridnas export-study: error: study 'mf' already exists in {journal}; choose another "
                   "--study-name (or delete the study with: optuna delete-study)"]
    assert journal.read_bytes() == before
    assert cli("export-study", runs / "failed", "--storage", journal, "--study-name", "second") == 0
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    assert sorted(optuna.get_all_study_names(JournalStorage(JournalFileBackend(str(journal))))) == ["mf", "second"]
    assert len(load(journal, "mf").trials) == len(load(journal, "mf").trials)  # the first study is intact


def test_failed_evaluations_are_failed_trials(runs, tmp_path):
    from optuna.trial import TrialState

    journal = tmp_path / "j.log"
    assert cli("export-study", runs / "failed", "--storage", journal) == 0
    study = load(journal, "failed")
    records = [json.loads(l) for l in (runs / "failed" / "evaluations.jsonl").read_text().splitlines()]
    assert len(study.trials) == len(records) and all(t.state == TrialState.FAIL for t in study.trials)
    assert [t.user_attrs["reason"] for t in study.trials] == [r["reason"] for r in records]
    assert study.best_trials == []


def test_a_file_that_is_not_a_journal_is_left_alone(runs, tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("my notes\n")
    assert cli("export-study", runs / "mf", "--storage", other) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an Optuna journal file" in err[0] and "--storage" in err[0]
    assert other.read_text() == "my notes\n"


def test_optunas_plots_work_on_the_study(runs, tmp_path):
    pytest.importorskip("plotly")
    journal = tmp_path / "j.log"
    assert cli("export-study", runs / "mf", "--storage", journal) == 0
    study = load(journal, "mf")
    fig = optuna.visualization.plot_pareto_front(study, targets=lambda t: t.values[:2],
                                                 target_names=["error", "params"])
    shown = sum(len(d.x) for d in fig.data)
    assert shown == sum(t.state.name == "COMPLETE" for t in study.trials)


def test_a_tabular_run_exports_its_declared_genes(tmp_path):
    assert cli("search", "digits_table", "--out", tmp_path, "--name", "tab", "--quiet", "--set",
               "engine.generations=2") == 0
    journal = tmp_path / "j.log"
    assert cli("export-study", tmp_path / "tab", "--storage", journal) == 0
    study = load(journal, "tab")
    results = RunResults(tmp_path / "tab")
    assert sorted(t.user_attrs["arch_id"] for t in study.best_trials) == sorted(r["arch_id"] for r in results.front())
    for t in study.trials:  # the genome of a table row is its genes, named
        assert ",".join(f"{k}={v}" for k, v in t.params.items()) == t.user_attrs["genome"]
