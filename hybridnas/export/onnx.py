"""ONNX export through PyTorch's current exporter (``torch.onnx.export(..., dynamo=True)``).

The exporter traces the model with ``torch.export`` and translates the graph with
``onnxscript``; the batch dimension stays dynamic. The file is checked with ``onnx.checker``
and, when ``onnxruntime`` is installed, run on the example batch and on a batch of one and
compared with the PyTorch model. Needs the ``onnx`` extra (onnx, onnxscript; onnxruntime for
the check): ``pip install 'hybridnas[onnx]'``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Dict

from ..errors import UserError, require
from ..store.layout import ONNX

# Opset 18 is what the exporter's function library is written in (no version conversion) and
# what runtimes from onnxruntime 1.14 on read; raise it only for a runtime that needs newer ops.
DEFAULT_OPSET = 18


def _quiet():
    """The exporter prints progress lines and warns about optional packages (torchvision)."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))  # version-conversion chatter
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    stack.callback(logger.setLevel, level)
    return stack


def check_opset(opset: int) -> None:
    """The exporter writes opset 18 and converts up to the newest opset the installed onnx knows;
    anything else it would silently replace with 18."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not DEFAULT_OPSET <= opset <= newest:
        raise UserError(f"--opset {opset} is not one this exporter writes (onnx {onnx.__version__}: "
                        f"{DEFAULT_OPSET} to {newest}); give --opset between {DEFAULT_OPSET} and {newest}")


def require_exporter() -> None:
    """Fail early, naming the extra, when the exporter's packages are missing."""
    require("onnx", "onnx", "ONNX export")
    require("onnxscript", "onnx", "ONNX export (the current torch.onnx exporter)")


def export_onnx(model, x, ref, folder: Path, check, opset: int = DEFAULT_OPSET) -> Dict[str, object]:
    """Write ``folder/model.onnx`` for ``model`` (input like ``x``) and check it.

    ``check(name, ref, out)`` compares outputs (raising when they disagree) and returns the max
    abs difference. Returns what goes into the model card: opset, file, checks.
    """
    import torch

    require_exporter()
    import onnx

    folder = Path(folder)
    tmp = folder / f".{ONNX}.tmp"
    batch = torch.export.Dim("batch", min=1, max=4096)
    with _quiet():
        program = torch.onnx.export(
            model, (x,), dynamo=True, opset_version=opset, dynamic_shapes=({0: batch},),
            input_names=["images"], output_names=["logits"], verbose=False,
        )
        program.save(str(tmp), external_data=False)
    try:
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
        if written != opset:
            raise UserError(f"the exporter wrote opset {written}, not the {opset} asked for; "
                            f"use --opset {DEFAULT_OPSET} (the exporter's own)")
        tmp.replace(folder / ONNX)
    finally:
        tmp.unlink(missing_ok=True)
    info: Dict[str, object] = {"file": ONNX, "opset": int(written),
                               "exporter": f"torch.onnx (dynamo) {torch.__version__}"}
    try:
        import onnxruntime as ort
    except ImportError:
        info["runtime_check"] = "not run: onnxruntime is not installed"
        return info
    sess = ort.InferenceSession(str(folder / ONNX), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    diffs = {}
    with torch.no_grad():
        for tag, xb, rb in (("batch", x, ref), ("single", x[:1], model(x[:1]))):
            out = torch.from_numpy(sess.run(None, {name: xb.cpu().numpy()})[0])
            diffs[tag] = check(f"ONNX program (onnxruntime, {tag})", rb.cpu(), out)
    info["runtime_check"] = f"onnxruntime {ort.__version__}: max abs difference {max(diffs.values()):.1e}"
    info["max_abs_diff"] = max(diffs.values())
    return info
