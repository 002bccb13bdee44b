"""Export a model from a run, and load it back without the run.

An export folder holds ``arch.json`` (the :class:`~hybridnas.space.genome.ArchSpec`, enough to
rebuild the network), ``model.pt`` (its ``state_dict``), optionally ``model.pt2`` (a
``torch.export`` program), ``model.ts`` (TorchScript, legacy), and ``card.md``/``card.json``
(a model card). Every format written is loaded back and its outputs compared with the
in-memory model before the export is declared done.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from ..errors import UserError

FORMATS = ("state", "pt2", "torchscript")
TOLERANCE = 1e-4


def load(path) -> "torch.nn.Module":
    """Rebuild a model from an export folder (or its ``arch.json``), weights loaded, in eval mode."""
    import torch

    from ..network.builder import build_network
    from ..space.genome import ArchSpec

    p = Path(path)
    folder = p.parent if p.is_file() else p
    arch = folder / "arch.json"
    weights = folder / "model.pt"
    if not arch.exists():
        raise UserError(f"'{folder}' has no arch.json; give an export folder written by 'hybridnas export'")
    try:
        spec = ArchSpec.from_json(json.loads(arch.read_text()))
    except ValueError:
        raise UserError(f"'{arch}' is not valid JSON; re-export the model") from None
    model = build_network(spec)
    if weights.exists():
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"cannot load weights '{weights}' ({type(exc).__name__}); re-export the model") from None
        model.load_state_dict(state)
    return model.eval()


def _example(spec, batch: int = 4):
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, spec.in_chans, *spec.image_size, generator=g)


def _check(name: str, ref, out) -> float:
    err = float((ref - out).abs().max())
    if err > TOLERANCE:
        raise RuntimeError(f"exported {name} disagrees with the model: max abs difference {err:.2e}")
    return err


def export_model(
    run,
    ident: str,
    formats: Sequence[str] = ("state", "pt2"),
    out: Optional[Path] = None,
) -> Path:
    import torch

    from ..network.costs import network_cost
    from ..results import RunResults
    from ..store import atomic_write

    results = run if isinstance(run, RunResults) else RunResults(run)
    for f in formats:
        if f not in FORMATS + ("onnx",):
            raise UserError(f"unknown export format '{f}'; choose from: {', '.join(FORMATS + ('onnx',))}")
    record = results.record(ident)
    spec = results.spec(record)
    model = results.model(record)
    weights_from = results.weights_path(record)
    folder = Path(out) if out else results.store.path(f"exports/{record['arch_id']}")
    folder.mkdir(parents=True, exist_ok=True)
    x = _example(spec)
    with torch.no_grad():
        ref = model(x)
    checks: Dict[str, float] = {}

    atomic_write(folder / "arch.json", (json.dumps(spec.to_json(), indent=2) + "\n").encode())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write(folder / "model.pt", buf.getvalue())
    with torch.no_grad():
        checks["state"] = _check("state_dict", ref, load(folder)(x))

    if "pt2" in formats:
        batch = torch.export.Dim("batch", min=1, max=4096)
        program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        tmp = folder / ".model.tmp.pt2"
        torch.export.save(program, str(tmp))
        tmp.replace(folder / "model.pt2")
        reloaded = torch.export.load(str(folder / "model.pt2")).module()
        with torch.no_grad():
            checks["pt2"] = _check("torch.export program", ref, reloaded(x))
    if "torchscript" in formats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript is deprecated; it is offered as a legacy option
            ts = torch.jit.trace(model, x)
            tmp = folder / ".model.ts.tmp"
            torch.jit.save(ts, str(tmp))
            tmp.replace(folder / "model.ts")
            with torch.no_grad():
                checks["torchscript"] = _check("TorchScript", ref, torch.jit.load(str(folder / "model.ts"))(x))
    if "onnx" in formats:
        from .onnx import export_onnx

        checks.update(export_onnx(model, x, ref, folder))

    cost = network_cost(spec)
    card = {
        "arch_id": record["arch_id"],
        "genome": record["genome"],
        "params": cost.params,
        "macs": cost.macs,
        "flops": cost.flops,
        "flops_convention": "flops = 2 x macs (torch.utils.flop_counter.FlopCounterMode); BN, pooling, activations not counted",
        "val_acc": record.get("val_acc"),
        "test_acc": record.get("test_acc"),
        "accuracy_note": (
            "after full training (hybridnas train)" if weights_from and "trained" in weights_from.parts
            else f"after proxy training of {record.get('epochs')} epochs during the search"
        ),
        "dataset": results.dataset,
        "input_shape": [None, spec.in_chans, *spec.image_size],
        "run": str(results.root),
        "config": str(results.store.path("config.yaml")),
        "weights_from": str(weights_from) if weights_from else None,
        "files": sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")),
        "checks_max_abs_diff": checks,
    }
    atomic_write(folder / "card.json", (json.dumps(card, indent=2) + "\n").encode())
    atomic_write(folder / "card.md", model_card_md(card, spec).encode())
    return folder


def model_card_md(card: Dict[str, Any], spec) -> str:
    d = card["dataset"]
    pre = d.get("preprocessing", {})
    lines = [
        f"# Model card: {card['arch_id']}",
        "",
        f"- genome: `{card['genome']}`",
        f"- parameters: {card['params']:,}",
        f"- MACs: {card['macs']:,}; FLOPs: {card['flops']:,} ({card['flops_convention']})",
        f"- validation accuracy: {card['val_acc']:.4f}; test accuracy: {card['test_acc']:.4f} ({card['accuracy_note']})"
        if card.get("val_acc") is not None else "- accuracy: not measured",
        f"- dataset: {d.get('name')} ({d.get('sizes')})",
        f"- input: N x {spec.in_chans} x {spec.image_size[0]} x {spec.image_size[1]}, "
        f"preprocessing {pre.get('formula', '')} with scale {pre.get('scale')}, mean {pre.get('mean')}, std {pre.get('std')}",
        f"- run: `{card['run']}` (config `{card['config']}`)",
        f"- files: {', '.join(card['files'])}",
        "",
        "## Cells",
        "",
    ]
    for i in sorted({st.block for st in spec.genome.stages}):
        b = spec.blocks[i]
        lines += [f"- block {i} normal: `{b.normal}`", f"- block {i} reduce: `{b.reduce}`"]
    lines += ["", "Load it with `hybridnas.load('<this folder>')`.", ""]
    return "\n".join(lines)
