"""``hybridnas plot RUN``"""

HELP = "draw the trade-off plots of a run"


def add_parser(sub):
    p = sub.add_parser("plot", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--format", default="png", help="comma-separated: png, svg (default png)")
    return p


def run(args) -> int:
    from ..analysis.plots import plot_front
    from ..errors import UserError
    from ..results import RunResults

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    for f in formats:
        if f not in ("png", "svg", "pdf"):
            raise UserError(f"unknown plot format '{f}'; use png, svg or pdf")
    from ..analysis.block_plots import plot_block_stage

    results = RunResults(args.run)
    for p in plot_front(results, formats) + plot_block_stage(results, formats):
        print(p)
    return 0
