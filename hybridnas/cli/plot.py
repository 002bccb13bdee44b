"""``hybridnas plot RUN [--format png,svg] [--theme light|dark] [--figure NAME,...]``"""

HELP = "draw the figures of a run (front, 3-D view, parallel coordinates, hypervolume, cells)"


def add_parser(sub):
    p = sub.add_parser("plot", help=HELP, description=HELP + "; written to RUN/plots/.")
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--format", default="png", help="comma-separated: png, svg, pdf (default png)")
    p.add_argument("--theme", default="light", choices=["light", "dark"],
                   help="light (default) or dark; each figure has its own solid background either way")
    p.add_argument("--figure", help="comma-separated subset of: front, front3d, parallel, hypervolume, proxy, cells "
                                    "(default: all that apply)")
    return p


def run(args) -> int:
    from ..analysis.plots import plot_all

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    figures = [f.strip() for f in args.figure.split(",") if f.strip()] if args.figure else None
    for p in plot_all(args.run, formats, args.theme, figures):
        print(p)
    return 0
