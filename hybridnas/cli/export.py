"""``hybridnas export RUN --id ID [--format state,pt2,onnx,torchscript] [--opset N] [--out DIR]``"""

from ..store.layout import CARD_JSON
from .output import add_json_flag, emit, human_text

HELP = "export a model of a run (weights + architecture JSON + torch.export program + ONNX + model card)"


def add_parser(sub):
    p = sub.add_parser("export", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--id", required=True, help="arch id (or a unique prefix) from front.csv or 'hybridnas pick'")
    p.add_argument("--format", default="state,pt2",
                   help="comma-separated: state, pt2, onnx (needs hybridnas[onnx]), torchscript (legacy) "
                        "(default state,pt2)")
    p.add_argument("--opset", type=int, help="ONNX opset (default 18)")
    p.add_argument("--out", help="output folder (default RUN/exports/<id>)")
    add_json_flag(p)
    return p


def run(args) -> int:
    with human_text(args.json):
        result = _export(args)
    if args.json:
        emit(result)
    return 0


def _export(args) -> dict:
    """The export, its files listed; returns what ``--json`` prints (folder, files, model card)."""
    import json

    from ..export import export_model

    folder = export_model(args.run, args.id, formats=args.format, out=args.out, opset=args.opset)
    card = json.loads((folder / CARD_JSON).read_text())
    print(folder)
    for f in sorted(folder.iterdir()):
        if not f.name.startswith("."):
            print(f"  {f.name}")
    checks = ", ".join(f"{k} {v:.1e}" for k, v in card["checks_max_abs_diff"].items())
    print(f"reloaded and compared with the model (max abs difference): {checks}")
    if card.get("onnx"):
        print(f"ONNX opset {card['onnx']['opset']}; {card['onnx']['runtime_check']}")
    files = {f.name: str(f) for f in sorted(folder.iterdir()) if not f.name.startswith(".")}
    return {"command": "export", "run": str(args.run), "arch_id": card["arch_id"], "folder": str(folder),
            "files": files, "card": card}
