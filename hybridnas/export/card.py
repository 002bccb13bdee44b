"""The model card of an export: ``card.md`` with YAML front matter, and the values it shows.

The front matter follows the Hugging Face model card convention (``library_name``, ``tags``,
``datasets``, ``metrics`` and a ``model-index`` whose results give each accuracy with the split
it was measured on and that split's size), plus a ``hybridnas`` block with what a deployer
checks first: parameters, MACs, FLOPs, the input shape and preprocessing, the class names. Every
path in the card is relative (to the run directory or the export folder): a card says nothing
about the machine it was written on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from ..store.layout import ARCH, MODEL, PT2

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_names(dataset: Dict[str, Any], data_path: Optional[str] = None) -> List[str]:
    """The name of each class index: the dataset's own names where it has them (Fashion-MNIST,
    KMNIST, CIFAR-10, an image folder's class folders), else the indices as strings."""
    from ..data.idx import SPECS

    name, k = dataset.get("name"), int(dataset.get("num_classes", 0))
    names: Optional[List[str]] = None
    if name in SPECS:
        names = list(SPECS[name].classes)
    elif name == "cifar10":
        names = list(CIFAR10_CLASSES)
    elif data_path:  # an image folder: its class folders in sorted order, as the reader numbered them
        root = Path(data_path).expanduser()
        root = root / "train" if (root / "train").is_dir() and (root / "test").is_dir() else root
        if root.is_dir():
            names = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if names is None or len(names) != k:
        names = [str(i) for i in range(k)]
    return names


def relative(path: Optional[Path], root: Path) -> Optional[str]:
    """``path`` relative to ``root`` when inside it, else its name: never a machine's absolute path."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def front_matter(card: Dict[str, Any]) -> Dict[str, Any]:
    """The YAML front matter of ``card.md`` (Hugging Face model card metadata)."""
    d = card["dataset"]
    sizes = d.get("sizes") or {}
    results = []
    for split in ("val", "test"):
        if card.get(f"{split}_acc") is None:
            continue
        results.append({
            "task": {"type": "image-classification", "name": "Image classification"},
            "dataset": {"name": d.get("name"), "type": d.get("name"), "split": split,
                        "args": {"images": sizes.get(split)}},
            "metrics": [{"type": "accuracy", "value": round(float(card[f"{split}_acc"]), 6),
                         "name": f"{split} accuracy ({sizes.get(split, '?')} images; {card['accuracy_note']})"}],
        })
    tags = ["image-classification", "neural-architecture-search", "hybridnas", "pytorch"]
    tags += ["onnx"] if card.get("onnx") else []
    meta: Dict[str, Any] = {
        "library_name": "hybridnas",
        "pipeline_tag": "image-classification",
        "tags": tags,
        "datasets": [d.get("name")],
        "metrics": ["accuracy"],
        "model-index": [{"name": card["arch_id"], "results": results}],
        "hybridnas": {
            "arch_id": card["arch_id"],
            "genome": card["genome"],
            "params": card["params"],
            "macs": card["macs"],
            "flops": card["flops"],
            "flops_convention": card["flops_convention"],
            "input_shape": card["input_shape"],
            "preprocessing": d.get("preprocessing"),
            "class_names": card["class_names"],
            "split_sizes": sizes,
            "files": card["files"],
        },
    }
    return meta


def model_card_md(card: Dict[str, Any], spec) -> str:
    """``card.md``: front matter, then the card in words, the cells, and how to load the model."""
    import yaml

    d = card["dataset"]
    pre = d.get("preprocessing", {})
    sizes = d.get("sizes") or {}
    h, w = spec.image_size

    def acc(split):
        n = f" on {sizes[split]:,} images" if split in sizes else ""
        return f"{split} accuracy {card[f'{split}_acc']:.4f}{n}"

    measured = [acc(s) for s in ("val", "test") if card.get(f"{s}_acc") is not None]
    lines = [
        "---",
        yaml.safe_dump(front_matter(card), sort_keys=False, allow_unicode=True, width=1000).rstrip(),
        "---",
        "",
        f"# Model card: {card['arch_id']}",
        "",
        f"- genome: `{card['genome']}`",
        f"- parameters: {card['params']:,}",
        f"- MACs: {card['macs']:,}; FLOPs: {card['flops']:,} per {h}x{w} image ({card['flops_convention']})",
        f"- {'; '.join(measured)} ({card['accuracy_note']})" if measured
        else f"- accuracy: not measured ({card['accuracy_note']})",
        f"- dataset: {d.get('name')} ({', '.join(f'{k} {v:,}' for k, v in sizes.items())} images)",
        f"- classes ({len(card['class_names'])}): {', '.join(card['class_names'])}",
        f"- input: N x {spec.in_chans} x {h} x {w}, preprocessing {pre.get('formula', '')} with scale "
        f"{pre.get('scale')}, mean {pre.get('mean')}, std {pre.get('std')}",
        f"- run: `{card['run']}` (config `{card['config']}`, relative to the run directory)",
        f"- weights: `{card['weights_from']}` (relative to the run directory)",
        f"- files: {', '.join(card['files'])}",
    ]
    if card.get("onnx"):
        o = card["onnx"]
        lines.append(f"- ONNX: `{o['file']}`, opset {o['opset']}, {o['exporter']}; {o['runtime_check']}")
    lines += [
        "- checks (max abs difference of each reloaded format against the model): "
        + ", ".join(f"{k} {v:.1e}" for k, v in card["checks_max_abs_diff"].items()),
        "",
        "## Cells",
        "",
    ]
    for i in sorted({st.block for st in spec.genome.stages}):
        b = spec.blocks[i]
        lines += [f"- block {i} normal: `{b.normal}`", f"- block {i} reduce: `{b.reduce}`"]
    lines += [
        "",
        "## How to load it",
        "",
        "Paths are relative to this folder. Preprocess images as above "
        f"(`(raw / {pre.get('scale')} - mean) / std`, N x C x H x W, float32); the outputs are logits over the "
        "classes in the order listed.",
        "",
        "```python",
        "import hybridnas, torch",
        f"model = hybridnas.load('.')  # {ARCH} + {MODEL}, in eval mode",
        f"logits = model(torch.zeros(1, {spec.in_chans}, {h}, {w}))",
    ]
    if PT2 in card["files"]:
        lines += ["# without hybridnas installed: the torch.export program",
                  f"program = torch.export.load('{PT2}').module()"]
    lines += ["```"]
    if card.get("onnx"):
        lines += [
            "",
            "```python",
            "import numpy as np, onnxruntime as ort",
            f"session = ort.InferenceSession('{card['onnx']['file']}')",
            f"logits = session.run(None, {{'images': np.zeros((1, {spec.in_chans}, {h}, {w}), np.float32)}})[0]",
            "```",
        ]
    lines.append("")
    return "\n".join(lines)
