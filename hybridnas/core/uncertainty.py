"""How precisely an accuracy is known, and which front members differ by more than noise.

An accuracy measured on ``n`` images is a binomial proportion: its standard error is about
``sqrt(p (1 - p) / n)``. hybridnas uses the Agresti-Coull form, which adds two correct and two
wrong answers before computing it (``p~ = (k + 2) / (n + 4)``, ``se = sqrt(p~ (1 - p~) / (n + 4))``;
Agresti & Coull, The American Statistician 1998), so a model at 100 % on 359 images gets
an error bar (0.4 %) instead of a false zero.

Two accuracies differ significantly when ``|a - b| > z * sqrt(se_a^2 + se_b^2)`` (z = 1.96, a
two-sided 5 % test). Front members are measured on the same validation images, so their errors
are correlated and this unpaired test is conservative: it calls some real differences noise,
never the reverse more often than 5 %.

:func:`mark_within_noise` marks a front member whose accuracy is not significantly above that
of a member costing no more in any objective: its extra cost buys no accuracy the validation
split can show. Nothing here changes the front; the mark is information for the user.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

Z = 1.96  # two-sided 95 %
SPLITS = ("val", "test")
NOISE_MARK = "within_noise_of"  # the front column: id of a cheaper member it does not beat
NOISE_COLUMNS = ("*_acc_se: standard error of the accuracy from the split size (Agresti-Coull); "
                 f"{NOISE_MARK}: a member costing no more whose accuracy this one does not beat significantly")


def standard_error(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` images (Agresti-Coull)."""
    if n <= 0:
        return float("nan")
    k = p * n
    pt = (k + 2.0) / (n + 4.0)
    return math.sqrt(pt * (1.0 - pt) / (n + 4.0))


def accuracy_fields(split: str, acc: float, n: int) -> Dict[str, Any]:
    """``<split>_acc``, ``<split>_n`` and ``<split>_acc_se`` of a record."""
    return {f"{split}_acc": acc, f"{split}_n": int(n), f"{split}_acc_se": standard_error(acc, n)}


def fill_standard_errors(record: Dict[str, Any], sizes: Dict[str, int]) -> Dict[str, Any]:
    """A record with ``<split>_n`` and ``<split>_acc_se`` for each accuracy it has (records
    written before these fields existed get them from the run's split ``sizes``)."""
    out = dict(record)
    for split in SPLITS:
        acc = out.get(f"{split}_acc")
        if acc is None or out.get(f"{split}_acc_se") is not None:
            continue
        n = out.get(f"{split}_n") or sizes.get(split)
        if n:
            out.update(accuracy_fields(split, float(acc), int(n)))
    return out


def differ(a: float, se_a: float, b: float, se_b: float, z: float = Z) -> bool:
    """Whether two accuracies differ by more than their noise (two-sided test at ``z``)."""
    return abs(a - b) > z * math.sqrt(se_a ** 2 + se_b ** 2)


def mark_within_noise(front: List[Dict[str, Any]], costs: Sequence[str], z: float = Z) -> List[Dict[str, Any]]:
    """Front records with :data:`NOISE_MARK` set on each member whose validation accuracy is not
    significantly above that of another member costing no more in any of ``costs``: the id of
    the cheapest such member (fewest of the first cost). Members without a standard error are
    left unmarked."""
    out = [dict(r) for r in front]
    for r in out:
        r.pop(NOISE_MARK, None)
    for a in out:
        if a.get("val_acc_se") is None:
            continue
        peers = [b for b in out if b is not a and b.get("val_acc_se") is not None
                 and all(b.get(c) is not None and a.get(c) is not None and b[c] <= a[c] for c in costs)
                 and not differ(a["val_acc"], a["val_acc_se"], b["val_acc"], b["val_acc_se"], z)
                 and b["val_acc"] <= a["val_acc"]]
        if peers:
            cheapest = min(peers, key=lambda b: (tuple(b[c] for c in costs), b["arch_id"]))
            a[NOISE_MARK] = cheapest["arch_id"]
    return out


def noise_note(front: List[Dict[str, Any]]) -> Optional[str]:
    """One sentence on the front's accuracy noise, for the CLI and the report."""
    ses = [r["val_acc_se"] for r in front if r.get("val_acc_se") is not None]
    if not ses:
        return None
    n = next((r.get("val_n") for r in front if r.get("val_n")), None)
    marked = sum(1 for r in front if r.get(NOISE_MARK))
    on = f" on {n:,} validation images" if n else ""
    return (f"validation accuracies{on} carry a standard error of {100 * min(ses):.2f}-{100 * max(ses):.2f} %; "
            f"{marked} of {len(front)} front members are not significantly more accurate than a member that "
            f"costs no more (marked '{NOISE_MARK}')")
