"""``hybridnas`` entry point. Heavy imports live inside each subcommand's ``run``, so ``--help``
answers at once. A :class:`~hybridnas.errors.UserError` prints one line and exits with 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

SUBCOMMANDS = ("search", "plot", "pick", "export", "train", "report", "serve", "compare", "completion",
               "export-study")


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line, with where to look, and exits with 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(
        prog="hybridnas",
        description="Two-stage multi-objective NAS: search cells, assemble networks with NSGA-II, pick from the front.",
    )
    parser.add_argument("--version", action="version", version=f"hybridnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parser.commands = {name: importlib.import_module(f"hybridnas.cli.{name.replace('-', '_')}").add_parser(sub)
                       for name in SUBCOMMANDS}
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from ..device import passive_wait
    from ..errors import UserError

    passive_wait()  # before anything loads torch: OpenMP reads it once

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the command they were given to, which lists its own flags
        (parser.commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(f"hybridnas.cli.{args.command.replace('-', '_')}")
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at interpreter exit
        return code
    except UserError as exc:
        print(f"hybridnas {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\nhybridnas {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so flushing stdout at exit raises nothing more
        return 141


if __name__ == "__main__":
    sys.exit(main())
