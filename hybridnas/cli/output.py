"""``--json``: one JSON object on stdout, everything meant for people on stderr.

A command with ``--json`` runs its usual printing inside :func:`human_text` (stdout redirected to
stderr, so a script reading stdout sees nothing but the object) and ends with :func:`emit`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Dict, Iterator


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object describing the result on stdout; the usual text goes to stderr")


@contextlib.contextmanager
def human_text(as_json: bool) -> Iterator[None]:
    """Send what is printed to stdout to stderr while ``as_json`` (the text stays readable)."""
    if not as_json:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(obj: Dict[str, Any]) -> None:
    """The one JSON object on stdout (paths and other non-JSON values as strings)."""
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
