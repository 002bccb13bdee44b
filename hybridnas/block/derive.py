"""Derive frozen cell genotypes from op weights: pure functions of an ``E x K`` matrix.

The DARTS rule (:func:`derive_cell`): for each intermediate node, rank its incoming edges by
their strongest op other than ``none`` and keep the ``k`` strongest (2 by default), each with that
op. The multinomial top-k rule of DATA (:func:`derive_cell_topk`) reads each node's rows as one
joint distribution over (edge, op) pairs and keeps as many of its top pairs as ``M`` draws most
likely land in and cover.

The collapse guard ``max_parameter_free`` (:func:`cap_parameter_free`) then replaces the weakest
parameter-free choices (skip, pooling) by the strongest parametric choice the node may make
instead - another op on the same edge, or an op on an input edge the node does not read yet (the
DARTS rule keeps one op per input edge; the top-k rule one of each (edge, op) pair) - until at
most that many remain. A strategy that removed ops from the space (ddpnas pruning) may pass them
as a ``reserve`` the guard reinstates only when nothing it kept would do. When even that is not
enough the guard says so: every rule appends what it could not do, and why, to ``notes``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..space.genotype import BlockGenotype, CellGenotype, edge_index, node_edges
from ..space.ops import OPS

Choice = Tuple[float, int, int]  # (strength, edge position, op index)


def derive_cell(
    weights: torch.Tensor,
    op_names: Sequence[str],
    nodes: int,
    *,
    k: int = 2,
    max_parameter_free: Optional[int] = None,
    mask: Optional[torch.Tensor] = None,
    reserve: Optional[torch.Tensor] = None,
    notes: Optional[List[str]] = None,
) -> CellGenotype:
    """The DARTS rule on ``weights`` (ops outside ``mask`` and ``none`` never chosen), then the
    collapse guard; ``reserve`` marks ops outside ``mask`` the guard may reinstate (their
    strengths are in ``weights``)."""
    w = _strength(weights, op_names, mask)
    chosen = _darts_choices(w, nodes, k)
    if max_parameter_free is not None:
        spare = None if reserve is None else _strength(weights, op_names, reserve)
        cap_parameter_free(chosen, w, op_names, nodes, max_parameter_free, reserve=spare, notes=notes)
    return _genotype(chosen, op_names, nodes)


def _strength(weights: torch.Tensor, op_names: Sequence[str], mask: Optional[torch.Tensor]) -> torch.Tensor:
    """``weights`` on the CPU with masked ops and ``none`` at -inf."""
    w = weights.detach().float().cpu().clone()
    usable = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.cpu().clone()
    if "none" in op_names:
        usable[:, list(op_names).index("none")] = False
    w[~usable] = float("-inf")
    return w


def _darts_choices(w: torch.Tensor, nodes: int, k: int) -> List[List[Choice]]:
    """Per node, its ``k`` strongest incoming edges, each with its strongest op."""
    chosen: List[List[Choice]] = []
    for i, positions in sorted(node_edges(nodes).items()):
        ranked = []
        for e in positions:
            best = int(torch.argmax(w[e]))
            if torch.isfinite(w[e, best]):
                ranked.append((float(w[e, best]), e, best))
        ranked.sort(key=lambda t: -t[0])
        if not ranked:
            raise ValueError(f"node {i} has no usable op on any incoming edge")
        chosen.append(ranked[:k])
    return chosen


def _genotype(chosen: List[List[Choice]], op_names: Sequence[str], nodes: int) -> CellGenotype:
    edges = edge_index(nodes)
    return CellGenotype(
        tuple(tuple((op_names[o], edges[e][1]) for _, e, o in sorted(node, key=lambda t: (t[1], t[2])))
              for node in chosen)
    )


def _alternative(node: List[Choice], slot: int, w: torch.Tensor, positions: Sequence[int],
                 distinct_edges: bool) -> Optional[Choice]:
    """The strongest finite ``(edge, op)`` of ``w`` that may replace ``node[slot]``: on one of the
    node's input edges, and - with ``distinct_edges`` - not on an edge another slot reads, else
    not a pair the node already has. Ties go to the slot's own edge."""
    _, e, _ = node[slot]
    others = [c for n, c in enumerate(node) if n != slot]
    best, best_key = None, None
    for e2 in positions:
        if distinct_edges and any(e2 == c[1] for c in others):
            continue
        for o2 in range(w.shape[1]):
            v = float(w[e2, o2])
            if v == float("-inf") or any((e2, o2) == (c[1], c[2]) for c in node):
                continue
            key = (v, e2 == e)
            if best_key is None or key > best_key:
                best, best_key = (v, e2, o2), key
    return best


def cap_parameter_free(
    chosen: List[List[Choice]],
    w: torch.Tensor,
    op_names: Sequence[str],
    nodes: int,
    limit: int,
    *,
    distinct_edges: bool = True,
    reserve: Optional[torch.Tensor] = None,
    notes: Optional[List[str]] = None,
) -> int:
    """Replace the weakest parameter-free choices until at most ``limit`` remain; edits ``chosen``
    in place and returns how many it could not remove (0: the cap holds).

    ``w`` is the ``E x K`` strength of the ops the rule may choose (others at -inf). A first pass
    takes each weakest parameter-free choice in turn and replaces it by the strongest parametric
    ``(edge, op)`` the node may make instead (:func:`_alternative`); if ops are still over the
    limit and a ``reserve`` strength is given (ops the search removed, at -inf where not
    allowed), a second pass takes replacements from it. What was reinstated from the reserve,
    and any shortfall with its reason, is appended to ``notes``."""
    free = torch.tensor([not OPS.get(op).parametric for op in op_names])
    edges, positions = edge_index(nodes), node_edges(nodes)

    def parametric(m: torch.Tensor) -> torch.Tensor:
        m = m.clone()
        m[:, free] = float("-inf")
        return m

    def free_picks():
        picks = [(s, n, slot) for n, node in enumerate(chosen) for slot, (s, _e, o) in enumerate(node) if free[o]]
        return sorted(picks, key=lambda t: t[0])  # weakest first

    name = lambda e, o: f"{op_names[o]} on {edges[e][0]}<-{edges[e][1]}"  # noqa: E731
    excess = len(free_picks()) - limit
    pools = [("kept", parametric(w))] + ([("reserve", parametric(reserve))] if reserve is not None else [])
    reinstated: List[str] = []
    for label, pool in pools:
        for _s, n, slot in free_picks():
            if excess <= 0:
                break
            alt = _alternative(chosen[n], slot, pool, positions[n + 2], distinct_edges)
            if alt is not None:
                chosen[n][slot] = alt
                excess -= 1
                if label == "reserve":
                    reinstated.append(name(alt[1], alt[2]))
    if notes is not None and reinstated:
        notes.append(
            f"the collapse guard reinstated {len(reinstated)} op(s) the search had removed ({', '.join(reinstated)}): "
            f"no parametric op it kept was left on an input the nodes could take, and max_parameter_free is {limit}"
        )
    if notes is not None and excess > 0:
        notes.append(
            f"keeps {limit + excess} parameter-free ops against max_parameter_free {limit}: no node has a parametric "
            "op left on an input edge it could take instead; allow more parameter-free ops or add parametric ops "
            "to cell.ops"
        )
    return max(excess, 0)


def cover_probability(p: Sequence[float], m: int) -> float:
    """Probability that ``m`` draws from a categorical distribution all land in the entries whose
    probabilities are ``p`` and hit each of them at least once (inclusion-exclusion)."""
    k, total = len(p), sum(p)
    if k > m:  # m draws cannot hit more than m entries
        return 0.0
    out = 0.0
    for r in range(k + 1):
        for t in combinations(p, r):
            out += (-1) ** r * max(total - sum(t), 0.0) ** m
    return max(out, 0.0)


def derive_cell_topk(
    joint: torch.Tensor,
    op_names: Sequence[str],
    nodes: int,
    samples: int,
    *,
    max_parameter_free: Optional[int] = None,
    mask: Optional[torch.Tensor] = None,
    notes: Optional[List[str]] = None,
) -> CellGenotype:
    """DATA's multinomial top-k rule. ``joint`` is ``E x K``; for node ``i`` the rows of its
    incoming edges together are one distribution over (edge, op) pairs. Keep the ``k`` most likely
    pairs, ``k`` in ``1..samples`` chosen to maximise the probability that ``samples`` draws land
    only in them and cover them all; then drop ``none``. A node thus reads 1..``samples`` inputs
    (at least one: if only ``none`` was kept, its most likely other pair)."""
    w = joint.detach().float().cpu().clone()
    usable = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.cpu().clone()
    w[~usable] = 0.0
    none = list(op_names).index("none") if "none" in op_names else -1
    chosen: List[List[Choice]] = []
    for i, positions in sorted(node_edges(nodes).items()):
        pairs = sorted(((float(w[e, o]), e, o) for e in positions for o in range(w.shape[1]) if usable[e, o]),
                       key=lambda t: -t[0])
        real = [t for t in pairs if t[2] != none]
        if not real:
            raise ValueError(f"node {i} has no usable op on any incoming edge")
        probs = [t[0] for t in pairs]
        best_k = max(range(1, min(samples, len(pairs)) + 1), key=lambda k: (cover_probability(probs[:k], samples), -k))
        kept = [t for t in pairs[:best_k] if t[2] != none] or real[:1]
        chosen.append(kept)
    if max_parameter_free is not None:
        strength = w.clone()
        strength[~usable] = float("-inf")
        if none >= 0:
            strength[:, none] = float("-inf")
        cap_parameter_free(chosen, strength, op_names, nodes, max_parameter_free, distinct_edges=False, notes=notes)
    return _genotype(chosen, op_names, nodes)


def derive_block_under_budget(
    probs: Dict[str, torch.Tensor],
    op_names: Sequence[str],
    nodes: int,
    cost: Callable[[BlockGenotype], float],
    budget: float,
    *,
    k: int = 2,
    max_parameter_free: Optional[int] = None,
    masks: Optional[Dict[str, torch.Tensor]] = None,
    notes: Optional[List[str]] = None,
) -> Tuple[BlockGenotype, float]:
    """The block the DARTS rule derives from ``probs`` (per cell kind, ``E x K`` probabilities),
    made to cost at most ``budget`` by greedy swaps: while over budget, take the change of one
    chosen (edge, op) - a cheaper op on the same edge, or another edge of the same node - that
    saves the most cost per unit of log-probability given up. Returns the block and its cost;
    when no change lowers the cost any more, the cheapest block reached (its cost says by how
    much it misses). The budget takes precedence over ``max_parameter_free``."""
    masks = masks or {}
    w = {kind: _strength(p, op_names, masks.get(kind)) for kind, p in probs.items()}
    chosen = {kind: _darts_choices(w[kind], nodes, k) for kind in ("normal", "reduce")}
    if max_parameter_free is not None:
        for kind in chosen:
            kind_notes: List[str] = []
            cap_parameter_free(chosen[kind], w[kind], op_names, nodes, max_parameter_free, notes=kind_notes)
            if notes is not None:
                notes += [f"{kind} cell: {n}" for n in kind_notes]

    def block(ch) -> BlockGenotype:
        return BlockGenotype(_genotype(ch["normal"], op_names, nodes), _genotype(ch["reduce"], op_names, nodes))

    def logp(kind: str, e: int, o: int) -> float:
        return float(torch.log(w[kind][e, o].clamp_min(1e-12)))

    current = cost(block(chosen))
    positions = node_edges(nodes)
    while current > budget:
        best = None  # (score, new cost, kind, node, slot, new choice)
        for kind, cells in chosen.items():
            for n, node in enumerate(cells):
                taken = {(e, o) for _, e, o in node}
                used_edges = {e for _, e, _ in node}
                for slot, (_, e, o) in enumerate(node):
                    for e2 in positions[n + 2]:
                        if e2 != e and e2 in used_edges:
                            continue
                        for o2 in range(len(op_names)):
                            if (e2, o2) in taken or not torch.isfinite(w[kind][e2, o2]):
                                continue
                            trial = {kk: [list(nd) for nd in vv] for kk, vv in chosen.items()}
                            trial[kind][n][slot] = (float(w[kind][e2, o2]), e2, o2)
                            c = cost(block(trial))
                            if c >= current:
                                continue
                            loss = max(logp(kind, e, o) - logp(kind, e2, o2), 0.0)
                            score = (current - c) / (loss + 1e-6)
                            if best is None or score > best[0]:
                                best = (score, c, kind, n, slot, (float(w[kind][e2, o2]), e2, o2))
        if best is None:
            break
        _, current, kind, n, slot, choice = best
        chosen[kind][n][slot] = choice
    return block(chosen), current


def count_ops(cell: CellGenotype, names: Sequence[str]) -> int:
    return sum(1 for op in cell.ops() if op in names)


def parameter_free_count(cell: CellGenotype) -> int:
    return sum(1 for op in cell.ops() if not OPS.get(op).parametric)
