"""``hybridnas serve RUN [--port P] [--host H] [--allow-remote] [--every S]``"""

HELP = "serve a run's interactive front page in the browser, redrawn as the search writes the run"


def add_parser(sub):
    from .pick import _number

    p = sub.add_parser("serve", help=HELP, description=HELP + ". It only reads the run directory: nothing is written.")
    p.add_argument("run", help="run directory, e.g. runs/digits (a search may still be running in it)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host that other machines can reach (the page shows the run to anyone who can)")
    p.add_argument("--every", type=_number, default=2.0, metavar="S",
                   help="how often the page checks the run for changes, in seconds (default 2)")
    return p


def run(args) -> int:
    from ..analysis.front_server import serve
    from ..errors import UserError

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port; give one in 1..65535 (or 0 for any free one)")

    def ready(url: str) -> None:
        print(f"serving the front of {args.run} at {url} (Ctrl-C to stop)", flush=True)

    serve(args.run, host=args.host, port=args.port, allow_remote=args.allow_remote, every_s=args.every,
          label=args.run, ready=ready)
    return 0
