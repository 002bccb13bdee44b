"""Messages through logging: the console shows what the CLI always printed, the ``hybridnas``
logger gets every message under the user's own configuration, a run's log file gets all of them."""

from __future__ import annotations

import io
import logging

import pytest

from hybridnas.progress import LOGGER, Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def seen():
    """A handler on the hybridnas logger, as an application would add one; restored after."""
    msgs = []

    class H(logging.Handler):
        def emit(self, record):
            msgs.append((record.name, record.levelname, record.getMessage()))

    h, level = H(), LOGGER.level
    LOGGER.addHandler(h)
    yield msgs
    LOGGER.removeHandler(h)
    LOGGER.setLevel(level)


def test_console_lines_are_the_plain_messages_and_one_line_per_bar_update_off_a_terminal():
    out = io.StringIO()
    p = Progress(stream=out)
    p.info("hello")
    with p.bar("train", 2) as bar:
        bar.update(1, "acc 0.5")
        bar.update(2)
    lines = out.getvalue().splitlines()
    assert lines[0] == "hello"
    assert lines[1].startswith("train [############............] 1/2 0:00<0:00 acc 0.5")
    assert lines[2].startswith("train [########################] 2/2") and len(lines) == 3


def test_a_terminal_redraws_the_bar_in_place_and_ends_its_line():
    out = Terminal()
    p = Progress(stream=out)
    with p.bar("b", 2) as bar:
        bar.update(1)
        bar.update(2)
        p.info("between")  # a message while a bar is drawn starts on a line of its own
    p.info("after")
    text = out.getvalue()
    assert text.startswith("\rb [") and "\x1b[K" in text
    assert "\x1b[K\nbetween\n" in text and text.endswith("between\nafter\n")


def test_quiet_shows_nothing_and_the_logger_follows_the_users_level(seen):
    out = io.StringIO()
    p = Progress(stream=out, quiet=True)
    LOGGER.setLevel(logging.WARNING)
    p.info("not shown")
    p.warning("careful")
    LOGGER.setLevel(logging.INFO)
    p.info("shown")
    with p.bar("bar", 1) as bar:
        bar.update(1)
    assert out.getvalue() == ""
    assert [m for m in seen if m[0] == "hybridnas"] == [("hybridnas", "WARNING", "careful"),
                                                        ("hybridnas", "INFO", "shown")]
    assert [m[0] for m in seen if m[2].startswith("bar [")] == ["hybridnas.progress"]


def test_a_log_file_gets_every_message_once_whatever_the_level(tmp_path, seen):
    LOGGER.setLevel(logging.WARNING)  # the user silenced INFO: the run's log still has it
    p = Progress(quiet=True)
    log = tmp_path / "search.log"
    with p.log_file(log):
        p.info("one")
        logging.getLogger("hybridnas.block").warning("two")  # logged directly, not through a Progress
        p.warning("three")
    p.info("after the run")
    LOGGER.setLevel(logging.INFO)
    with p.log_file(log):  # a second session appends
        p.info("four")
        Progress(quiet=True).info("five")  # another Progress: through the logger, once
    lines = log.read_text().splitlines()
    assert [l.split(" ", 2)[2] for l in lines] == ["INFO hybridnas: one", "WARNING hybridnas.block: two",
                                                  "WARNING hybridnas: three", "INFO hybridnas: four",
                                                  "INFO hybridnas: five"]
    assert [m[2] for m in seen] == ["two", "three", "four", "five"]
    assert not LOGGER.handlers[1:] or all(not isinstance(h, logging.FileHandler) for h in LOGGER.handlers)


def test_a_discarded_session_leaves_the_log_as_it_was(tmp_path):
    log, p = tmp_path / "search.log", Progress(quiet=True)
    with p.log_file(log) as f:
        p.info("a new run refused")
        f.discard()
    assert not log.exists()
    with p.log_file(log):
        p.info("first session")
    before = log.read_bytes()
    with p.log_file(log) as f:
        p.info("a resume refused as bad input")
        f.discard()
    assert log.read_bytes() == before and not p.files


def test_notes_said_before_the_run_log_opens_land_in_it_and_show_when_quiet(tmp_path, seen, capsys):
    """The CLI's notes before a search (shown even with --quiet) and the API's (shown with progress) reach
    the logger at once and the run's search.log once it opens, with the same text."""
    quiet = Progress(quiet=True)
    quiet.note(logging.INFO, "hybridnas search: note: extending run", show=True)
    quiet.note(logging.WARNING, "warning: torch changed")  # not shown: quiet, and not asked to
    assert capsys.readouterr().err == "hybridnas search: note: extending run\n"
    with quiet.log_file(tmp_path / "search.log"):
        quiet.info("block stage")
    text = (tmp_path / "search.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in text] == [
        "INFO hybridnas: hybridnas search: note: extending run", "WARNING hybridnas: warning: torch changed",
        "INFO hybridnas: block stage"]
    assert ("hybridnas", "WARNING", "warning: torch changed") in seen


def test_say_prints_the_text_alone_and_hands_it_to_the_logger(seen, capsys):
    from hybridnas.progress import say

    say("downloading https://example.org/a.gz ...", logging.INFO, logging.getLogger("hybridnas.data"))
    say("hybridnas plot: warning: 2 records lost", logging.WARNING)
    assert capsys.readouterr().err.splitlines() == ["downloading https://example.org/a.gz ...",
                                                    "hybridnas plot: warning: 2 records lost"]
    assert seen == [("hybridnas", "WARNING", "hybridnas plot: warning: 2 records lost")]  # INFO: the user's level
