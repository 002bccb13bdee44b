"""``hybridnas compare RUN RUN... [--out DIR] [--format png,svg] [--json]``"""

from .output import add_json_flag, emit, human_text

HELP = "compare runs: fronts overlaid in one figure, hypervolumes on a common reference, sizes, best accuracy"


def add_parser(sub):
    p = sub.add_parser("compare", help=HELP, description=HELP + ". The runs must share their objectives.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more run directories, e.g. runs/digits runs/digits-2")
    p.add_argument("--out", default="compare",
                   help="folder for compare.png, compare.csv and compare.json (default: ./compare)")
    p.add_argument("--format", default="png", help="figure formats, comma-separated: png, svg, pdf (default png)")
    add_json_flag(p)
    return p


def run(args) -> int:
    with human_text(args.json):
        result = _compare(args)
    if args.json:
        emit(result)
    return 0


def _compare(args) -> dict:
    from ..analysis.compare import compare

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    result = compare(args.runs, out=args.out, formats=formats)
    rows = result["runs"]
    w = max(len(r["run"]) for r in rows)

    def num(v, spec):
        return "-" if v is None else format(v, spec)

    print(f"{'run':<{w}} {'evaluated':>9} {'front':>5} {'HV':>7} {'best val':>8} {'its test':>8} "
          f"{'params':>17} {'FLOPs':>21}")
    for r in rows:
        params = f"{num(r.get('min_params'), ',')}..{num(r.get('max_params'), ',')}" if "min_params" in r else "-"
        flops = f"{num(r.get('min_flops'), ',')}..{num(r.get('max_flops'), ',')}" if "min_flops" in r else "-"
        best, test = num(r.get("best_val_acc"), ".4f"), num(r.get("best_test_acc"), ".4f")
        print(f"{r['run']:<{w}} {r['evaluated']:>9} {r['front_size']:>5} {r['hypervolume']:>7.4f} "
              f"{best:>8} {test:>8} {params:>17} {flops:>21}")
    print("HV: hypervolume of each front on the runs' common reference (widest bounds of their hv_reference.json; "
          "higher is better)")
    for note in result["notes"]:
        print(f"note: {note}")
    for _name, path in result["files"].items():
        print(f"wrote {path}")
    return {"command": "compare", **result}
