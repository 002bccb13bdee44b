"""hybridnas.search(callbacks=...) and logging, on one tiny search through the Python API: each
callback sees every record as written, every generation summary and the end; a failing callback
is logged and dropped while the search goes on; StopSearch stops a search that then resumes;
messages go to the ``hybridnas`` logger and RUN/search.log, and nothing to stderr unless asked."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest

import hybridnas
from hybridnas.callbacks import Callback, StopSearch
from tests.conftest import TINY


class Recorder(Callback):
    def __init__(self):
        self.calls, self.records, self.summaries, self.end = [], [], [], None

    def on_start(self, run):
        self.calls.append("start")
        self.path = run.path

    def on_evaluation(self, run, record):
        self.calls.append("evaluation")
        self.records.append(json.loads(json.dumps(record)))  # as JSON, like the file

    def on_generation(self, run, summary):
        self.calls.append("generation")
        self.summaries.append(summary)
        self.front_then = [r["arch_id"] for r in run.front]  # the run reads as it stands

    def on_end(self, run, summary):
        self.calls.append("end")
        self.end = summary

    def close(self):
        self.calls.append("close")


class Broken(Callback):
    def __init__(self):
        self.called = 0

    def on_evaluation(self, run, record):
        self.called += 1
        raise ValueError("this callback is broken")


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    rec, broken, seen = Recorder(), Broken(), Collect()
    logger = logging.getLogger("hybridnas")
    level = logger.level
    logger.addHandler(seen)
    logger.setLevel(logging.INFO)  # what a notebook user does to see the messages in their own handler
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            run = hybridnas.search(TINY, out=str(out), name="a", callbacks=[rec, broken])
    finally:
        logger.removeHandler(seen)
        logger.setLevel(level)
    return run, rec, broken, seen.messages, err.getvalue()


def lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_callbacks_see_every_record_generation_and_the_end(searched):
    run, rec, _, _, _ = searched
    assert rec.records == lines(run.path / "evaluations.jsonl")
    gens = sorted((run.path / "generations").glob("gen_*.json"))
    assert len(gens) == 3 and rec.summaries == [json.loads(g.read_text()) for g in gens]
    assert rec.end == json.loads((run.path / "summary.json").read_text())
    assert rec.calls[0] == "start" and rec.calls[-2:] == ["end", "close"]
    assert rec.calls.count("evaluation") == len(rec.records) and rec.calls.count("generation") == 3
    # a generation's summary comes once its front is written: the run then shows that front
    assert sorted(rec.front_then) == sorted(rec.summaries[-1]["front"])


def test_a_failing_callback_is_logged_once_and_the_search_goes_on(searched):
    run, rec, broken, _, _ = searched
    assert broken.called == 1  # dropped after its first error; the others went on
    assert (run.path / "summary.json").exists() and len(rec.records) == 18
    log = (run.path / "search.log").read_text()
    assert ("ERROR hybridnas.callbacks: callback Broken.on_evaluation failed (ValueError: this callback is broken)"
            in log)
    assert "Traceback" in log and 'raise ValueError("this callback is broken")' in log


def test_messages_go_to_the_logger_and_search_log_and_not_to_stderr(searched):
    run, _, _, messages, err = searched
    assert err == ""  # progress=False: nothing on the console
    log = (run.path / "search.log").read_text().splitlines()
    assert any(m.startswith(f"run {run.path}") for m in messages)  # the first line the CLI shows
    assert any("network search [" in m for m in messages)  # bars too
    logged = [l.split(": ", 1)[1] for l in log if ": " in l and l[:4].isdigit()]
    assert [m for m in messages] == logged  # the file has every message the logger had, in order


def test_stop_search_stops_cleanly_and_the_run_resumes(tmp_path):
    class StopAfterFirst(Callback):
        def on_generation(self, run, summary):
            raise StopSearch("enough for now")

    run = hybridnas.search(TINY, out=str(tmp_path), name="s", callbacks=[StopAfterFirst()],
                           engine__generations=2)
    assert not (run.path / "summary.json").exists() and not (run.path / ".lock").exists()
    assert len(list((run.path / "generations").glob("gen_*.json"))) == 1
    first = lines(run.path / "evaluations.jsonl")
    assert "search stopped by a callback (enough for now)" in (run.path / "search.log").read_text()

    rec = Recorder()
    hybridnas.search(resume=str(run.path), callbacks=[rec])
    after = lines(run.path / "evaluations.jsonl")
    assert after[:len(first)] == first and len({r["arch_id"] for r in after}) == len(after)
    # the resumed session reports only what it adds: generation 1 and its new evaluations
    assert [s["generation"] for s in rec.summaries] == [1] and rec.records == after[len(first):]
    assert (run.path / "search.log").read_text().count(f"run {run.path} |") == 2  # both sessions, appended


def test_a_callback_must_be_a_callback(tmp_path):
    with pytest.raises(hybridnas.errors.UserError, match="not a hybridnas.callbacks.Callback"):
        hybridnas.search(TINY, out=str(tmp_path), name="x", callbacks=[print])
    assert not (tmp_path / "x").exists()
