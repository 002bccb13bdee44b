"""``hybridnas report RUN [--theme light|dark]``"""

HELP = "write a run's report: RUN/report.md and RUN/report.html with the figures they show"


def add_parser(sub):
    p = sub.add_parser("report", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--theme", default="light", choices=["light", "dark"], help="figure theme (default light)")
    return p


def run(args) -> int:
    from ..report import write_report

    for p in write_report(args.run, theme=args.theme):
        print(p)
    from ..results import warn_loss

    warn_loss("report", args.run)
    return 0
