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
    """An optional backend is not installed; the message names the extra that provides it."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed; "
            f"install it with: pip install 'hybridnas[{extra}]'"
        )


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingExtra` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # only the missing package itself, not errors inside it
        if exc.name and exc.name.split(".")[0] != module.split(".")[0]:
            raise
        raise MissingExtra(module.split(".")[0], extra, purpose) from None
