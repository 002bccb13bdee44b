"""``hybridnas search [SPACE] [--name N] [--resume RUN] [--set key=value ...]``"""

from __future__ import annotations

import logging
import sys

from ..store.layout import EVALS, FRONT_CSV, FRONT_JSON, SUMMARY
from .output import add_json_flag, emit, human_text

HELP = "run the two-stage search (default space: spaces/digits.yaml)"


def add_parser(sub):
    p = sub.add_parser("search", help=HELP, description=HELP)
    p.add_argument("space", nargs="?", help="space YAML path or name in spaces/ (default: digits)")
    p.add_argument("--name", help="run name (default: the space's name, numbered if taken)")
    p.add_argument("--out", help="parent folder of the run (default: runs/)")
    p.add_argument("--resume", metavar="RUN", help="continue a killed or finished run from its directory")
    p.add_argument("--init-from", metavar="RUN",
                   help="start from another run: its front seeds generation 0, its block library is reused when the "
                        "block stage is the same, and its evaluations are reused when measured the same way "
                        "(docs/front-to-model.md)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set engine.generations=4 (repeatable); with --resume "
                        "only engine.generations and engine.evaluations, raised, to extend a search")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (overrides the space)")
    p.add_argument("--block-strategy", help="block strategy (overrides block.strategy)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads per training process (default 1; workers x threads stay within the cores)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--no-export", action="store_true", help="do not export the knee model at the end")
    from ..integrations import TRACKERS

    p.add_argument("--track", action="append", default=[], choices=TRACKERS,
                   help="also log the search to TensorBoard (RUN/tensorboard) or MLflow (RUN/mlruns, or "
                        "MLFLOW_TRACKING_URI); repeatable; see docs/integrations.md")
    add_json_flag(p)
    return p


def positive_int(text: str) -> int:
    """An argparse type: a whole number > 0 (``--threads``)."""
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number; give e.g. 1") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1") from None
    return v


def run(args) -> int:
    with human_text(args.json):
        result = _search(args)
    if args.json:
        emit(result)
    return 0


def _search(args) -> dict:
    """The search; returns what ``--json`` prints: the summary, the front and the run's files."""
    from ..pipeline import config_source, open_run, run_search
    from ..progress import Progress

    if args.resume:  # a run's config is fixed: name what cannot apply, not just --set
        given = [flag for flag, v in (("--name", args.name), ("--device", args.device),
                                      ("--block-strategy", args.block_strategy), ("--out", args.out),
                                      ("--threads", args.threads), ("--init-from", args.init_from)) if v]
        if given:
            from ..errors import UserError

            raise UserError(f"{', '.join(given)} cannot change a run being resumed (its config and place are fixed); "
                            "resume without it, or start a new run")
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"device={args.device}")
    if args.block_strategy:
        overrides.append(f"block.strategy.name={args.block_strategy}")
    if args.threads:
        overrides.append(f"threads={args.threads}")
    notes: list = []
    cfg, store = open_run(args.space, overrides, name=args.name, resume=args.resume, out=args.out, notes=notes)
    from ..integrations import tracker

    callbacks = [tracker(name) for name in dict.fromkeys(args.track)]  # a missing extra is refused here
    progress = Progress(quiet=args.quiet)
    for note in notes:  # shown even with --quiet: the run does not do all the space file says; in search.log too
        warning = note.startswith("warning: ")
        progress.note(logging.WARNING if warning else logging.INFO,
                      f"hybridnas search: {note if warning else 'note: ' + note}", show=True)
    summary = run_search(cfg, store, progress, export=not args.no_export, callbacks=callbacks,
                         source=config_source(args.space, overrides, args.resume), init_from=args.init_from)
    print_summary(summary)
    from ..results import RunResults

    results = RunResults(store.root)
    front = results.front() if summary["front_size"] else []
    if not summary["front_size"]:
        print(f"hybridnas search: warning: {results.empty_front()}", file=sys.stderr)
    else:
        from ..core.uncertainty import noise_note

        note = noise_note(front)
        if note:
            print(f"accuracy noise: {note}")
    files = {k: str(store.path(k)) for k in (FRONT_CSV, FRONT_JSON, SUMMARY) if store.exists(k)}
    return {"command": "search", **summary, "files": files, "front": front}


def print_summary(s) -> None:
    session = "this session " if s.get("resumed") else ""
    print(f"\nrun: {s['run']}  ({session}{s['total_s']:.0f} s: block stage {s['block_stage_s']:.0f} s, "
          f"network stage {s['network_stage_s']:.0f} s)")
    stopped = f" (+{s['stopped_early']} stopped at a lower budget)" if s.get("stopped_early") else ""
    print(f"blocks in library: {s['blocks']}; models evaluated: {s['evaluated']}{stopped}; "
          f"on the front: {s['front_size']}")
    if "proposed" in s:
        budget = f" of a budget of {s['budget']}" if s.get("budget") is not None else ""
        print(f"search: {s['distinct_evaluations']} distinct networks evaluated{budget}; {s['proposed']} proposed "
              f"({s['infeasible']} infeasible, not trained); {s['duplicates_rejected']} repeats of earlier proposals "
              f"rejected" + ("; surrogate-assisted" if s.get("surrogate") else ""))
    est = s.get("estimate") or {}
    if est.get("total_range_s") and not s.get("resumed"):
        from ..estimate import format_range

        took = s["block_stage_s"] + s["network_stage_s"]
        print(f"estimated at the start: {format_range(tuple(est['total_range_s']))}; took {took:.0f} s")
    if s.get("init_from"):
        i = s["init_from"]
        print(f"init from {i['source']}: library {i['library']}; {len(i.get('seed_ids', []))} seeds; evaluations "
              f"{i.get('evaluations', '-')} ({len(i.get('copied_ids', []))} copied)")
    if s.get("extended"):
        print("extended: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in s["extended"].items()))
    if s.get("failed"):
        kinds = ", ".join(f"{k.replace('_', ' ')} {v['count']}" for k, v in s["failures"].items())
        print(f"failed: {s['failed']} ({kinds}); every reason is in {s['run']}/{EVALS}")
        for v in s["failures"].values():
            print(f"  e.g. {v['example']}")
    if "params_range" in s:
        lo, hi = s["params_range"]
        print(f"front params: {lo:,.0f} .. {hi:,.0f} ({s['params_span']:.1f}x)")
    if "best_val_acc" in s:
        test = f"test {s['best_test_acc']:.4f}, " if s.get("best_test_acc") is not None else ""
        print(f"best val acc {s['best_val_acc']:.4f} ({test}id {s['best_arch_id']})")
    if "exported" in s:
        print(f"exported knee model {s['exported']['arch_id']} to {s['run']}/{s['exported']['path']}")
    if s["front_size"]:
        print(f"next: hybridnas pick {s['run']} --rule knee | hybridnas plot {s['run']}")
