"""Export a model from a run, and load it back without the run.

An export folder holds ``arch.json`` (the :class:`~hybridnas.space.genome.ArchSpec`, enough to
rebuild the network), ``model.pt`` (its ``state_dict``), optionally ``model.pt2`` (a
``torch.export`` program), ``model.onnx`` (ONNX, see :mod:`hybridnas.export.onnx`),
``model.ts`` (TorchScript, legacy), and ``card.md``/``card.json`` (a model card with YAML
front matter, see :mod:`hybridnas.export.card`). Every format
written is loaded back and its outputs compared with the in-memory model before the export is
declared done. The folder is assembled beside its destination and moved into place at the end,
so a failed or killed export leaves the previous one (or nothing), never half of one.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from ..errors import UserError
from ..store.layout import ARCH, CARD_JSON, CARD_MD, CONFIG, MODEL, PT2, TORCHSCRIPT, TRAINED_DIR, export_dir

if TYPE_CHECKING:
    import torch

FORMATS = ("state", "pt2", "onnx", "torchscript")
TOLERANCE = 1e-4


def load(path) -> "torch.nn.Module":
    """Rebuild a model from an export folder (or its ``arch.json``), weights loaded, in eval mode."""
    import torch

    from ..space.builder import build_network
    from ..space.genome import ArchSpec

    p = Path(path)
    folder = p.parent if p.is_file() else p
    arch = folder / ARCH
    weights = folder / MODEL
    if not arch.exists():
        raise UserError(f"'{folder}' has no {ARCH}; give an export folder written by 'hybridnas export'")
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
    opset: Optional[int] = None,
) -> Path:
    """Export the model ``ident`` (arch id or unique prefix) of ``run``; return its folder."""
    from ..results import RunResults
    from ..store import staging_folder, writing

    results = run if isinstance(run, RunResults) else RunResults(run)
    if isinstance(formats, str):  # "state,pt2" as the CLI takes it
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    for f in formats:
        if f not in FORMATS:
            raise UserError(f"unknown export format '{f}'; choose from: {', '.join(FORMATS)}")
    if "onnx" in formats:
        from .onnx import check_opset, require_exporter

        require_exporter()  # before anything is written
        if opset is not None:
            check_opset(opset)
    elif opset is not None:
        raise UserError("--opset only applies to the onnx format; add onnx to --format")
    record = results.record(ident)
    folder = Path(out) if out else results.store.path(export_dir(record["arch_id"]))
    if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / ARCH).exists())):
        # an export replaces an older export, never a folder of something else
        raise UserError(f"'{folder}' exists and is not a hybridnas export; give --out a new or empty folder")
    made = [p for p in (folder.parent, *folder.parent.parents) if not p.exists()]  # removed again on failure
    try:
        with writing(folder):
            stage = staging_folder(folder)  # and the staging folders of killed exports go
    except OSError as exc:  # not a disk that filled up: a place no folder can be made (/proc, a file's child)
        raise UserError(f"cannot create the export folder '{folder}' ({exc.strerror or exc}); "
                        "give --out a folder you can write") from None
    try:
        with writing(folder):  # a full disk: one line, and the staging folder goes
            _export_into(results, record, stage, formats, opset, folder)
            _swap_in(stage, folder)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if not folder.exists():  # a failed export leaves no empty folders behind (RUN/exports/ included)
            for p in made:
                try:
                    p.rmdir()
                except OSError:
                    break
    return folder


def _swap_in(stage: Path, folder: Path) -> None:
    """Move a finished export folder into place, replacing an older one."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    stage.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _export_into(results, record, folder: Path, formats, opset, final: Path) -> None:
    import torch

    from ..space.costs import network_cost
    from ..store import atomic_write

    model = results.model(record)
    spec = model.spec  # at the full training's image size when its weights are the ones exported
    weights_from = results.weights_path(record)
    trained = weights_from is not None and TRAINED_DIR in weights_from.relative_to(results.root).parts
    full = results.trained().get(record["arch_id"]) if trained else None
    x = _example(spec)
    with torch.no_grad():
        ref = model(x)
    checks: Dict[str, float] = {}

    atomic_write(folder / ARCH, (json.dumps(spec.to_json(), indent=2) + "\n").encode())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write(folder / MODEL, buf.getvalue())
    with torch.no_grad():
        checks["state"] = _check("state_dict", ref, load(folder)(x))

    if "pt2" in formats:
        batch = torch.export.Dim("batch", min=1, max=4096)
        program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        tmp = folder / ".model.tmp.pt2"
        torch.export.save(program, str(tmp))
        tmp.replace(folder / PT2)
        reloaded = torch.export.load(str(folder / PT2)).module()
        with torch.no_grad():
            checks["pt2"] = _check("torch.export program", ref, reloaded(x))
    if "torchscript" in formats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript is deprecated; it is offered as a legacy option
            ts = torch.jit.trace(model, x)
            tmp = folder / ".model.ts.tmp"
            torch.jit.save(ts, str(tmp))
            tmp.replace(folder / TORCHSCRIPT)
            with torch.no_grad():
                checks["torchscript"] = _check("TorchScript", ref, torch.jit.load(str(folder / TORCHSCRIPT))(x))
    onnx_info = None
    if "onnx" in formats:
        from .onnx import DEFAULT_OPSET, export_onnx

        onnx_info = export_onnx(model, x, ref, folder, _check, DEFAULT_OPSET if opset is None else opset)
        if "max_abs_diff" in onnx_info:
            checks["onnx"] = onnx_info["max_abs_diff"]

    from .card import class_names, model_card_md, relative

    cost = network_cost(spec)
    dataset = dict(full["data"] if full and "data" in full else results.dataset)
    if isinstance(dataset.get("config"), dict) and dataset["config"].get("path"):  # no local paths in a card
        dataset["config"] = {**dataset["config"], "path": Path(dataset["config"]["path"]).name}
    card = {
        "arch_id": record["arch_id"],
        "genome": record["genome"],
        "params": cost.params,
        "macs": cost.macs,
        "flops": cost.flops,
        "flops_convention": "flops = 2 x macs (torch.utils.flop_counter.FlopCounterMode); "
                            "BN, pooling, activations not counted",
        **_accuracy(record, trained, full),
        "dataset": dataset,
        "class_names": class_names(dataset, results.config.data.path),
        "input_shape": [None, spec.in_chans, *spec.image_size],
        "onnx": onnx_info,
        "run": results.root.resolve().name,  # paths are relative: the card says nothing of this machine
        "config": CONFIG,
        "weights_from": relative(weights_from, results.root),
        "files": sorted([p.name for p in folder.iterdir() if not p.name.startswith(".")] + [CARD_JSON, CARD_MD]),
        "checks_max_abs_diff": checks,
        "folder": relative(final, results.root),
    }
    atomic_write(folder / CARD_JSON, (json.dumps(card, indent=2) + "\n").encode())
    atomic_write(folder / CARD_MD, model_card_md(card, spec).encode())
    return folder


def _accuracy(record, trained: bool, full: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The accuracy that goes with the exported weights: full training's when they are its."""
    proxy = {"proxy_val_acc": record.get("val_acc"), "proxy_test_acc": record.get("test_acc")}
    if not trained:
        return {"val_acc": record.get("val_acc"), "test_acc": record.get("test_acc"),
                "accuracy_note": f"after proxy training of {record.get('epochs')} epochs during the search", **proxy}
    if full is None:
        return {"val_acc": None, "test_acc": None, **proxy,
                "accuracy_note": "fully trained weights without their record; "
                                 "run 'hybridnas train' again to measure them"}
    data = full.get("data")
    on = f" on {data['splits']} ({data['sizes']['train']:,} images)" if data else ""
    return {"val_acc": full["val_acc"], "test_acc": full["test_acc"], **proxy,
            "accuracy_note": f"after full training of {full['epochs']} epochs{on} (hybridnas train)"}
