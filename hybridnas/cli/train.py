"""``hybridnas train RUN --id ID [--epochs N] [--cutout N] [--drop-path P] [--aux-weight W] [--set KEY=VALUE] ...``"""

from __future__ import annotations

from pathlib import Path

from .output import add_json_flag, emit, human_text
from .search import positive_int

HELP = "train a model of a run fully (long cosine schedule; cutout, drop-path, auxiliary head), resumable"


def add_parser(sub):
    p = sub.add_parser("train", help=HELP, description=HELP + ". Settings come from the space's 'train' "
                       "section; the flags override them. It trains on all of the search's dataset (its subset "
                       "caps do not apply), training and validation splits together, and tests on the test "
                       "split; --set data.KEY=VALUE changes the data (e.g. data.image_size=28, data.subset=5000). "
                       "A killed training resumes from its last epoch when run again with the same settings.")
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--id", required=True, help="arch id (or a unique prefix) from front.csv or 'hybridnas pick'")
    p.add_argument("--epochs", type=int, help="training epochs (cosine schedule over all of them)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="initial learning rate (SGD, cosine to --lr-min)")
    p.add_argument("--lr-min", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--cutout", type=int, help="side of the square cut out of each image (0: off)")
    p.add_argument("--drop-path", type=float, help="final drop-path probability (ramped linearly)")
    p.add_argument("--aux-weight", type=float,
                   help="> 0 adds an auxiliary head with this loss weight (dropped at export)")
    p.add_argument("--augment", action=argparse_bool(), help="random crop + flip (default: the space's)")
    p.add_argument("--eval-every", type=int, help="log validation accuracy (test accuracy when the validation "
                   "split is trained on) every N epochs")
    p.add_argument("--include-val", action=argparse_bool(), help="train on the validation split too (default: "
                   "yes; --no-include-val trains on the training split and logs validation accuracy)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="data.KEY=VALUE changes the training data, train.KEY=VALUE a training setting (repeatable)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the run's)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="torch threads (default: the run's 'threads', else 1; at most the cores)")
    p.add_argument("--restart", action="store_true", help="discard a checkpoint or finished training and start over")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_json_flag(p)
    return p


def argparse_bool():
    import argparse

    return argparse.BooleanOptionalAction


OVERRIDES = ("epochs", "batch_size", "lr", "lr_min", "weight_decay", "cutout", "drop_path", "aux_weight",
             "augment", "eval_every", "include_val")


def settings_from(sets, flags):
    """``--set`` items (``data.KEY`` or ``train.KEY``) and flag values as ``train_model`` overrides."""
    from ..config import parse_override
    from ..errors import UserError

    out, data = {}, {}
    for text in sets:
        path, value = parse_override(text)
        if len(path) != 2 or path[0] not in ("data", "train"):
            raise UserError(f"--set {text}: train takes data.KEY (the data it trains on) or train.KEY (a training "
                            "setting); write e.g. --set data.image_size=28")
        (data if path[0] == "data" else out)[path[1]] = value
    out.update({k: v for k, v in flags.items() if v is not None})  # a flag wins over --set train.KEY
    if data:
        out["data"] = {**dict(out.get("data") or {}), **data}
    return out


def run(args) -> int:
    with human_text(args.json):
        result = _train(args)
    if args.json:
        emit(result)
    return 0


def _train(args) -> dict:
    """The full training; returns what ``--json`` prints: the record appended to trained.jsonl."""
    from ..progress import Progress
    from ..retrain import train_model

    overrides = settings_from(args.overrides, {k: getattr(args, k) for k in OVERRIDES})
    r = train_model(args.run, args.id, overrides, device=args.device, restart=args.restart,
                    progress=Progress(quiet=args.quiet), threads=args.threads)
    print(f"{r['arch_id']}  {r['genome']}  {r['params']:,} params")
    print(f"  proxy ({r['proxy_epochs']} epochs): val {r['proxy_val_acc']:.4f}  test {r['proxy_test_acc']:.4f}")
    d = r["data"]
    h, w = r["image_size"]
    val = f"val {r['val_acc']:.4f}  " if r.get("val_acc") is not None else ""
    print(f"  full  ({r['epochs']} epochs on {d['splits']}: {d['sizes']['train']:,} images at {h}x{w}): "
          f"{val}test {r['test_acc']:.4f} on {d['sizes']['test']:,} images  ({r['seconds']:.0f} s)")
    if "search_flops" in r:
        sh, sw = r["search_image_size"]
        print(f"  FLOPs {r['flops']:,} at {h}x{w} (the search's {r['search_flops']:,} were at {sh}x{sw})")
    print(f"weights: {args.run}/{r['weights']}; export with: hybridnas export {args.run} --id {r['arch_id']}")
    return {"command": "train", "run": str(args.run), **r, "weights_path": str(Path(args.run) / r["weights"])}
