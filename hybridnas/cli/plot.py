"""``hybridnas plot RUN [--format png,svg] [--theme light|dark] [--figure NAME,...]``"""

HELP = ("draw the figures of a run (front, 3-D view, parallel coordinates, hypervolume, proxy against full "
        "training, block cells, op-probability heat-maps)")


def add_parser(sub):
    from ..analysis.plots import BLOCK_FIGURES, FIGURES, FORMATS  # a light import: no numpy, no matplotlib

    p = sub.add_parser("plot", help=HELP, description=HELP + "; written to RUN/plots/.")
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--format", default="png", help=f"comma-separated: {', '.join(FORMATS)} (default png)")
    p.add_argument("--theme", default="light", choices=["light", "dark"],
                   help="light (default) or dark; each figure has its own solid background either way")
    p.add_argument("--figure", help=f"comma-separated subset of: {', '.join(FIGURES)} (default: all that apply; "
                                    f"a tabular run has no {' or '.join(BLOCK_FIGURES)})")
    return p


def _names(text):
    return [f.strip() for f in text.split(",") if f.strip()]


def run(args) -> int:
    from ..analysis.plots import plot_all

    figures = _names(args.figure) if args.figure is not None else None
    for p in plot_all(args.run, _names(args.format), args.theme, figures):
        print(p)
    from ..results import warn_loss

    warn_loss("plot", args.run)
    return 0
