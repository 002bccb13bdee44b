"""Is the block search learning? Checks of each library member's search, from its alpha log.

Two failures give cells that mean nothing, without any error: a supernet whose training accuracy
stays near chance (its cells were chosen by weights that learned little), and op probabilities
that stay near uniform (the cells rest on differences the search never established). Both were
seen on real data with a short budget (Fashion-MNIST at 14x14, ``egs``: 15-18 % training
accuracy, chance 10 %). The stage prints these warnings after each member's search and keeps them
in ``block/member_<i>.json``; ``hybridnas report`` re-reads them from ``block/alpha.jsonl``.

What the alpha log holds per cell kind and epoch (:func:`distribution_stats`), over the
distributions the strategy mixes or samples from (one per edge; one per node for ``egs``), each
over its allowed entries (``n`` of them):

* ``entropy``: mean entropy in nats; ``max_entropy``: the mean of ``log n``, the entropy of
  uniform distributions over the same entries (so ``entropy / max_entropy`` is 1 at uniform,
  0 when every distribution has decided);
* ``margin``: the mean of ``(max p - 1/n) / (1 - 1/n)``: how far the strongest entry stands
  from uniform toward certain (0 uniform, 1 one-hot). Entropy barely moves while one op pulls
  ahead (8 ops with the strongest at 0.2 against 0.125: 99 % of the uniform entropy), the
  margin does (0.09); the derivation takes the strongest op, so the margin is what it rests on.

A distribution with a single allowed entry (pruned down to one op) has decided: entropy 0,
margin 1.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Sequence

import torch

#: training accuracy below chance + this share of the way from chance to 100 %: near chance
CHANCE_SHARE = 0.2
#: final margin (mean of the two cell kinds) below this: near uniform
UNIFORM_MARGIN = 0.05


def distribution_stats(dists: Iterable[torch.Tensor]) -> Dict[str, float]:
    """``entropy``, ``max_entropy`` and ``margin`` (see the module docstring) of probability
    vectors, each over its allowed entries."""
    h, h_max, margin = [], [], []
    for p in dists:
        p = p.detach().double().flatten()
        n = p.numel()
        if n == 0:
            continue
        p = p / p.sum().clamp_min(1e-300)
        if n == 1:  # decided
            h.append(0.0)
            h_max.append(0.0)
            margin.append(1.0)
            continue
        q = p.clamp_min(1e-300)
        h.append(float(-(p * q.log()).sum()))
        h_max.append(math.log(n))
        margin.append(float((p.max() - 1.0 / n) / (1.0 - 1.0 / n)))
    mean = lambda v: sum(v) / len(v) if v else 0.0  # noqa: E731
    return {"entropy": mean(h), "max_entropy": mean(h_max), "margin": mean(margin) if margin else 1.0}


def _margin(rec: Dict[str, Any], kind: str) -> float:
    """The logged margin, or - for a log written before it existed - one computed from the
    probabilities, each row over its non-zero entries."""
    if "margin" in rec[kind]:
        return float(rec[kind]["margin"])
    rows = [torch.tensor(r) for r in rec[kind]["probs"]]
    return distribution_stats(r[r > 0] for r in rows)["margin"]


def check_member(records: Sequence[Dict[str, Any]], block_cfg, num_classes: int) -> List[str]:
    """Warnings about one member's search (``records``: its alpha-log lines in epoch order),
    each naming what to change; empty when the search looks healthy."""
    from .strategies import STRATEGIES

    if not records:
        return []
    out = []
    chance = 1.0 / max(int(num_classes), 1)
    accs = [r.get("train_acc") for r in records]
    accs = [a for a in accs if a is not None and not math.isnan(a)]
    if accs and max(accs) < chance + CHANCE_SHARE * (1.0 - chance):
        out.append(
            f"the supernet's training accuracy stayed near chance (best epoch {100 * max(accs):.1f} %, chance "
            f"{100 * chance:.1f} %): its cells were chosen by weights that learned little; train it longer "
            f"(block.warmup_epochs, now {block_cfg.warmup_epochs}; block.epochs, now {block_cfg.epochs}) or check "
            f"the learning rate (block.lr, now {block_cfg.lr:g})"
        )
    last = records[-1]
    margin = sum(_margin(last, k) for k in ("normal", "reduce")) / 2
    if margin < UNIFORM_MARGIN:
        hint = STRATEGIES.get(block_cfg.strategy.name, key="block.strategy").uniform_hint(block_cfg)
        out.append(
            f"the op probabilities stayed near uniform (the strongest op stands {100 * margin:.1f} % of the way "
            f"from uniform to certain, averaged over the cells' distributions): the derived cells rest on "
            f"differences the search did not establish; {hint}"
        )
    return out


def relative_entropy(rec: dict, kind: str) -> float:
    """Entropy over its uniform value; a log written before ``max_entropy`` existed was per edge
    over all ops."""
    r = rec[kind]
    top = r.get("max_entropy", math.log(len(rec["ops"])))
    return r["entropy"] / top if top > 0 else 0.0


#: final entropy at or above this share of uniform's (mean of the two cell kinds): the checks pass,
#: but the report says the op probabilities moved little (the default digits search ends at 0.94-0.99)
WEAK_ENTROPY = 0.9


def summary_line(records: Sequence[Dict[str, Any]], num_classes: int) -> str:
    """What the checks saw, for a member that passed them: whether the op probabilities decided
    (entropy below :data:`WEAK_ENTROPY` of uniform's) or passed while moving little."""
    accs = [r.get("train_acc") for r in records]
    accs = [a for a in accs if a is not None and not math.isnan(a)]
    last = records[-1]
    margin = sum(_margin(last, k) for k in ("normal", "reduce")) / 2
    share = sum(relative_entropy(last, k) for k in ("normal", "reduce")) / 2
    acc = f"best training accuracy {100 * max(accs):.1f} %" if accs else "no training accuracy logged"
    seen = (f"{acc} (chance {100 / max(int(num_classes), 1):.1f} %); op-probability entropy {100 * share:.0f} % of "
            f"uniform's, the strongest op {100 * margin:.1f} % of the way from uniform to certain")
    if share >= WEAK_ENTROPY:
        return (f"passed the checks, but the op probabilities moved little from uniform: {seen}; the derived cells "
                "rest on small differences (a longer block search, block.epochs, lets them decide)")
    return f"the search learned and its op probabilities decided: {seen}"
