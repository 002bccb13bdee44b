"""``hybridnas pick RUN [--rule knee|max-acc] [--max-params N] [--max-flops N] [--min-acc A] [-n N]``"""

HELP = "pick models from a run's front by a rule and hard limits"


def _number(text: str) -> float:
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number (e.g. 1e6)") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be positive")
    return v


def add_parser(sub):
    p = sub.add_parser("pick", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--rule", default="knee", choices=["knee", "max-acc"], help="how to rank the front (default knee)")
    p.add_argument("--max-params", type=_number, help="hard limit on parameters")
    p.add_argument("--max-flops", type=_number, help="hard limit on FLOPs (2 x MACs)")
    p.add_argument("--min-acc", type=_number, help="hard lower limit on validation accuracy (0..1)")
    p.add_argument("-n", type=int, default=1, help="how many models to pick (default 1)")
    return p


def run(args) -> int:
    from ..analysis.pick import pick

    chosen = pick(args.run, rule=args.rule, n=args.n, max_params=args.max_params, max_flops=args.max_flops, min_acc=args.min_acc)
    print(f"{'arch_id':<13} {'val_acc':>8} {'test_acc':>8} {'params':>10} {'FLOPs':>12}  genome")
    for r in chosen:
        print(f"{r['arch_id']:<13} {r['val_acc']:>8.4f} {r['test_acc']:>8.4f} {r['params']:>10,} {r['flops']:>12,}  {r['genome']}")
    from ..results import RunResults

    if not RunResults(args.run).config.tabular:  # a table's rows are not networks to export
        print(f"export with: hybridnas export {args.run} --id {chosen[0]['arch_id']}")
    return 0
