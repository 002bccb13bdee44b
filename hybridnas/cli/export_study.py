"""``hybridnas export-study RUN --storage journal.log [--study-name NAME]``"""

from __future__ import annotations

HELP = "write a run's evaluations as an Optuna study (for optuna-dashboard and Optuna's plots)"


def add_parser(sub):
    p = sub.add_parser("export-study", help=HELP, description=HELP + "; see docs/integrations.md")
    p.add_argument("run", help="run directory")
    p.add_argument("--storage", required=True, metavar="FILE",
                   help="Optuna journal file to write (created, or added to: its other studies are kept)")
    p.add_argument("--study-name", metavar="NAME", help="study name (default: the run directory's name)")
    return p


def run(args) -> int:
    from ..integrations.optuna_study import export_study

    study = export_study(args.run, args.storage, args.study_name)
    states: dict = {}
    for t in study.trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    print(f"study '{study.study_name}' in {args.storage}: {len(study.trials)} trials "
          f"({', '.join(f'{n} {k}' for k, n in states.items())}); front {len(study.best_trials)}")
    print(f"next: optuna-dashboard {args.storage}")
    return 0
