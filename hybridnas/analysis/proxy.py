"""How well the search's proxy training ranked the models that were later trained fully.

The search ranks networks by validation accuracy after a few epochs; what matters is the
accuracy after full training. Over the models trained fully (``trained.jsonl``), Kendall's
tau-b (ties allowed) and Spearman's rho between proxy validation accuracy and the full
training's validation and test accuracy say whether the proxy put them in the right order
(1: same order, 0: unrelated, -1: reversed).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Dict, Iterable, Optional

MIN_MODELS = 3  # rank correlation of two models is +-1 by construction


def _corr(fn, a, b) -> Optional[float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy warns and returns nan
        v = float(fn(a, b)[0])
    return None if math.isnan(v) else v


def proxy_agreement(trained: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """Rank agreement between proxy and full-training accuracy over ``trained`` records."""
    from scipy.stats import kendalltau, spearmanr

    rows = [r for r in trained if r.get("proxy_val_acc") is not None]
    out: Dict[str, Any] = {"n": len(rows)}
    if len(rows) < MIN_MODELS:
        out["note"] = f"rank agreement needs at least {MIN_MODELS} fully trained models, have {len(rows)}"
        return out
    proxy = [r["proxy_val_acc"] for r in rows]
    for split in ("val", "test"):
        # a training on train+val has no validation accuracy: those models are left out of "val"
        pairs = [(p, r[f"{split}_acc"]) for p, r in zip(proxy, rows) if r.get(f"{split}_acc") is not None]
        ok = len(pairs) >= MIN_MODELS
        out[f"kendall_tau_{split}"] = _corr(kendalltau, *zip(*pairs)) if ok else None
        out[f"spearman_{split}"] = _corr(spearmanr, *zip(*pairs)) if ok else None
    return out
