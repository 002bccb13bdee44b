"""``hybridnas export RUN --id ID [--format state,pt2,onnx,torchscript] [--out DIR]``"""

HELP = "export a model of a run (weights + architecture JSON + torch.export program + model card)"


def add_parser(sub):
    p = sub.add_parser("export", help=HELP, description=HELP)
    p.add_argument("run", help="run directory, e.g. runs/digits")
    p.add_argument("--id", required=True, help="arch id (or a unique prefix) from front.csv or 'hybridnas pick'")
    p.add_argument("--format", default="state,pt2",
                   help="comma-separated: state, pt2, onnx, torchscript (legacy) (default state,pt2)")
    p.add_argument("--out", help="output folder (default RUN/exports/<id>)")
    return p


def run(args) -> int:
    from ..export import export_model

    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    folder = export_model(args.run, args.id, formats=formats, out=args.out)
    print(folder)
    for f in sorted(folder.iterdir()):
        if not f.name.startswith("."):
            print(f"  {f.name}")
    return 0
