"""``hybridnas pick RUN [--rule R] [--prefer k=v,...] [--weights k=v,...] [--max-params N] [--max-flops N]
[--max-latency MS] [--min-acc A] [-n N]``"""

from ..store.layout import PICKS
from .output import add_json_flag, emit, human_text

HELP = "pick models from a run's front by a rule and hard limits"

RULE_HELP = (
    "knee (best trade-off point; default), max-acc, asf (closest to --prefer by the achievement "
    "scalarising function), pseudo-weights (closest to --weights), high-tradeoff (pymoo's high "
    "trade-off points, then the knee order)"
)


def _number(text: str) -> float:
    import argparse
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number; give e.g. 1e6") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"'{text}' must be a finite number > 0; give e.g. 1e6")
    return v


def add_parser(sub):
    p = sub.add_parser("pick", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--rule", help=RULE_HELP)  # checked by analysis.pick (no numpy import for --help)
    p.add_argument("--prefer", metavar="K=V,...",
                   help="aspiration point for --rule asf, e.g. acc=0.98,flops=2e6 "
                        "(keys: acc, params, flops, macs, latency)")
    p.add_argument("--weights", metavar="K=V,...",
                   help="objective weights for --rule pseudo-weights, e.g. acc=0.6,params=0.2,flops=0.2")
    p.add_argument("--max-params", type=_number, help="hard limit on parameters")
    p.add_argument("--max-flops", type=_number, help="hard limit on FLOPs (2 x MACs)")
    p.add_argument("--max-latency", type=_number, metavar="MS", help="hard limit on measured latency (ms)")
    p.add_argument("--min-acc", type=_number, help="hard lower limit on validation accuracy (0..1)")
    p.add_argument("-n", type=int, default=1,
                   help="how many models to list, best first (default 1); only the first is recorded as the pick")
    add_json_flag(p)
    return p


def run(args) -> int:
    with human_text(args.json):
        result = _pick(args)
    if args.json:
        emit(result)
    return 0


def _pick(args) -> dict:
    """The pick, printed as a table; returns what ``--json`` prints."""
    from ..analysis.pick import LATENCY, pick

    chosen = pick(args.run, rule=args.rule, n=args.n, max_params=args.max_params, max_flops=args.max_flops,
                  min_acc=args.min_acc, max_latency=args.max_latency, prefer=args.prefer, weights=args.weights)
    from ..core.uncertainty import NOISE_MARK

    lat = any(r.get(LATENCY) is not None for r in chosen)
    se = any(r.get("val_acc_se") is not None for r in chosen)
    acc_w = 15 if se else 8
    print(f"{'arch_id':<13} {'val_acc' + (' ± se' if se else ''):>{acc_w}} "
          f"{'test_acc' + (' ± se' if se else ''):>{acc_w}} "
          f"{'params':>10} {'FLOPs':>12}" + (f" {'ms':>8}" if lat else "") + "  genome")

    def cell(r, key, width, spec):
        return format(r[key], spec).rjust(width) if r.get(key) is not None else "-".rjust(width)

    def acc(r, split):
        if r.get(f"{split}_acc") is None or r.get(f"{split}_acc_se") is None:
            return cell(r, f"{split}_acc", acc_w, ".4f")
        return f"{r[f'{split}_acc']:.4f} ± {r[f'{split}_acc_se']:.4f}".rjust(acc_w)

    for r in chosen:  # a table's rows may lack test_acc, params or flops
        print(f"{r['arch_id']:<13} {acc(r, 'val')} {acc(r, 'test')} "
              f"{cell(r, 'params', 10, ',')} {cell(r, 'flops', 12, ',')}"
              + (f" {cell(r, LATENCY, 8, '.3g')}" if lat else "") + f"  {r['genome']}")
    rule = chosen[0]["pick"]["rule"]
    for r in chosen:
        if r.get(NOISE_MARK):
            print(f"  {r['arch_id']}: not significantly more accurate than {r[NOISE_MARK]}, which costs no more "
                  f"(the validation split cannot tell them apart)")
        if not r.get("on_front", True):
            print(f"  {r['arch_id']}: not on the run's front (dominated once latency is ignored); a limit on a "
                  "quantity that is not an objective picks among every evaluated model that meets it")
        info = r["pick"]
        if "asf" in info:
            print(f"  {r['arch_id']}: ASF {info['asf']:+.3f} (<= 0: meets every aspiration)")
        elif "pseudo_weights" in info:
            pw = ", ".join(f"{k} {v:.2f}" for k, v in info["pseudo_weights"].items())
            print(f"  {r['arch_id']}: pseudo-weights {pw} (distance {info['distance']:.3f})")
        elif "high_tradeoff" in info and not info["high_tradeoff"]:
            print(f"  {r['arch_id']}: not flagged as a high trade-off point (next in knee order)")
    limited = chosen[0]["pick"].get("limited")
    if limited:
        print(f"  the limits changed the pick: {rule} over the whole front chooses {limited['unconstrained']}, which "
              f"breaks them ({limited['misses']}); {chosen[0]['arch_id']} is the {rule} choice among the models that "
              "meet them")
    elif any(v is not None for v in (args.max_params, args.max_flops, args.max_latency, args.min_acc)):
        print(f"  {chosen[0]['arch_id']} is the {rule} choice of the whole front and meets the limits: they do not "
              "change it")
    also = f"; the {len(chosen) - 1} listed after it are runners-up, not recorded as picks" if len(chosen) > 1 else ""
    print(f"picked {chosen[0]['arch_id']} by {rule}; recorded in {args.run}/{PICKS}{also}")
    from ..results import RunResults, warn_loss

    out = {"command": "pick", "run": str(args.run), "rule": rule, "picked": chosen[0]["arch_id"],
           "recorded_in": str(RunResults(args.run).store.path(PICKS)), "models": chosen}
    if not RunResults(args.run).config.tabular:  # a table's rows are not networks to export
        out["export_command"] = f"hybridnas export {args.run} --id {chosen[0]['arch_id']}"
        print(f"export with: {out['export_command']}")
    warn_loss("pick", args.run)
    return out
