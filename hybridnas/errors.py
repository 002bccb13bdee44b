"""The one error type for user mistakes.

A :class:`UserError` carries a single line that names the problem and the fix. The CLI prints it
as ``hybridnas: error: <line>`` and exits with status 2, without a traceback; any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (bad config, missing data, bad flag). Exit status 2."""

    exit_code = 2

    def __init__(self, message: str):
        # One line: a multi-line message would hide the fix below the fold.
        # every line break, not only \n; characters a terminal cannot print (lone surrogates of a
        # mistyped escape) as backslash escapes
        text = " ".join(str(message).splitlines())
        super().__init__(text.encode("utf-8", "backslashreplace").decode("utf-8"))


class MissingExtra(UserError):
    """An optional backend is not installed; the message names the extra that provides it, with
    the pip of the environment hybridnas runs in (``.venv/bin/pip`` after ``make search``)."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed; "
            f"install it with: {_pip()} install 'hybridnas[{extra}]'"
        )


def _pip() -> str:
    """The pip of the running interpreter's environment (relative to the current folder when
    inside it), or plain ``pip`` when there is none beside the interpreter."""
    import os
    import sys

    pip = os.path.join(os.path.dirname(sys.executable), "pip")
    if not os.path.exists(pip):
        return "pip"
    rel = os.path.relpath(pip)
    return rel if not rel.startswith("..") else pip


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingExtra` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # only the missing package itself, not errors inside it
        if exc.name and exc.name.split(".")[0] != module.split(".")[0]:
            raise
        raise MissingExtra(module.split(".")[0], extra, purpose) from None
