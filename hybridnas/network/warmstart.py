"""``hybridnas search --init-from RUN``: start a new search from another run's results.

Three decisions, each written to the new run's ``init_from.json`` (so a resume replays them):

1. **Block library.** The source's library is reused when the new run's block stage is the same:
   equal ``data``, ``cell`` and ``block`` sections and the same ``seed`` (it draws the data split
   and the supernet's initial weights) - everything the derived library depends on, apart from
   the machine. ``blocks.json`` and the block stage's logs (``block/alpha.jsonl``,
   ``block/member_*.json``) are copied and the block stage is skipped. Otherwise the new run
   searches its own blocks.
2. **Seeds.** The source's front members that exist in the new run's space start its network
   stage: each genome is re-encoded in the new space (its stem, repeats, widths and downsampling
   must be choices of the new space, its stage count the same) and each block it uses must be
   in the new library with the same cell genotypes (remapped to its index there), so a seed is
   the very network the source evaluated; a seed that breaks a constraint of the new run is
   dropped. At most ``engine.pop_size`` seeds, spread evenly over the front by parameters; they
   fill generation 0 before any random network.
3. **Evaluations.** A source record is copied into the new run's ``evaluations.jsonl`` (marked
   ``copied_from``, ``generation`` -1, its weights copied when kept) only when it was measured
   exactly as the new run would measure it: the same ``evaluation`` section (apart from where it
   runs: ``workers``, ``timeout_s``, ``ray``), the same ``data`` section and ``seed`` (the same
   splits), and the same network (arch id). Then every source network valid in the new space
   that meets its constraints and reached the full budget is copied, all of its rungs, and the
   new run trains none of them. Otherwise nothing is copied: the seeds are trained once, in the
   new run, under its own settings. Either way the cache (one record per arch id and budget)
   keeps a network already in the new run from being trained again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..config import RunConfig, to_dict
from ..core.objectives import top_budget
from ..errors import UserError
from ..progress import Progress
from ..results import RunResults
from ..space.genome import Genome
from ..store import RunStore
from ..store.layout import ALPHA_LOG, BLOCK_DIR, BLOCK_MEMBERS, BLOCKS, EVALS, INIT_FROM
from .points import NetworkPoints
from .problem import NetworkProblem

PLACEMENT = ("workers", "timeout_s", "ray")  # where evaluations run, not what they measure
BLOCK_LOGS = (ALPHA_LOG,)


def _source(path) -> RunResults:
    src = RunResults(path)
    if src.config.tabular:
        raise UserError(f"--init-from '{path}' is a tabular run; start a table search without it")
    if not src.store.exists(BLOCKS) or not src.records():
        raise UserError(f"--init-from '{path}' has no evaluated networks yet; let its search run (or resume it) first")
    return src


def check_source(cfg: RunConfig, path, store: RunStore) -> None:
    """Refuse, before the new run's directory exists, a source that cannot start it."""
    if cfg.tabular:
        raise UserError("--init-from starts a network search from another run; a tabular space has no networks to seed")
    if store.root.exists() and Path(path).resolve() == store.root.resolve():
        raise UserError(f"--init-from '{path}' is the run itself; continue it with --resume {path} instead")
    src = _source(path)
    if list(src.config.objectives) != list(cfg.objectives):
        raise UserError(f"--init-from '{path}' searched {', '.join(src.config.objectives)}, this run "
                        f"{', '.join(cfg.objectives)}: its front does not rank this run's networks; search with the "
                        "same objectives")


def same_block_stage(cfg: RunConfig, src_cfg: RunConfig) -> Tuple[bool, str]:
    """Whether the new run's block stage would derive the source's library, and why not."""
    for key in ("data", "cell", "block", "seed"):
        if to_dict(getattr(cfg, key)) != to_dict(getattr(src_cfg, key)):
            return False, f"'{key}' differs"
    return True, "same data, cell and block sections and seed"


def same_measurement(cfg: RunConfig, src_cfg: RunConfig) -> Tuple[bool, str]:
    """Whether the source's evaluations measure what the new run's would, and why not."""
    a, b = to_dict(cfg.evaluation), to_dict(src_cfg.evaluation)
    for k in PLACEMENT:
        a.pop(k, None)
        b.pop(k, None)
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
        return False, "evaluation." + ", evaluation.".join(diff) + " differ"
    for key in ("data", "seed"):
        if to_dict(getattr(cfg, key)) != to_dict(getattr(src_cfg, key)):
            return False, f"'{key}' differs (another data split)"
    return True, "same evaluation settings, data and seed"


def prepare_library(cfg: RunConfig, store: RunStore, source, progress: Progress) -> None:
    """Before the block stage of a new run: decide about the library (copying it when reused)
    and write ``init_from.json``. Nothing to do when the run already has that file (a resume)."""
    if store.exists(INIT_FROM):
        return
    src = _source(source)
    reuse, why = same_block_stage(cfg, src.config)
    if reuse and not store.exists(BLOCKS):
        members = tuple(str(p.relative_to(src.root)) for p in src.store.path(BLOCK_DIR).glob(BLOCK_MEMBERS))
        for rel in BLOCK_LOGS + members:
            if src.store.exists(rel):
                store.write_bytes(rel, src.store.path(rel).read_bytes())
        store.write_bytes(BLOCKS, src.store.path(BLOCKS).read_bytes())  # last: it marks the stage done
    progress.info(f"init from {src.root}: block library {'reused' if reuse else 'searched again'} ({why})")
    store.write_json(INIT_FROM, {"source": str(Path(source)), "library": "reused" if reuse else "searched",
                            "library_why": why})


def _remap(genome, src_blocks, new_blocks) -> Optional[Any]:
    """The genome with its block indices moved to the new library (same genotypes), or None."""
    import dataclasses

    index = {str(b): i for i, b in enumerate(new_blocks)}
    stages = []
    for st in genome.stages:
        j = index.get(str(src_blocks[st.block])) if st.block < len(src_blocks) else None
        if j is None:
            return None
        stages.append(dataclasses.replace(st, block=j))
    return dataclasses.replace(genome, stages=tuple(stages))


def _encode(points: NetworkPoints, src: RunResults, record) -> Optional[np.ndarray]:
    """The record's network as a gene vector of the new space, or None if the space lacks it."""
    genome = _remap(Genome.parse(record["genome"]), [e.genotype for e in src.library], points.blocks)
    if genome is None or len(genome.stages) != points.network.stages:
        return None
    try:
        x = points.space.encode(genome)
    except (UserError, KeyError):
        return None
    return x if points.space.decode(x) == genome else None


def seed(cfg: RunConfig, store: RunStore, problem: NetworkProblem, progress: Progress) -> Optional[np.ndarray]:
    """After the block stage: the gene vectors that start the network stage (``None`` without
    ``--init-from``), copying the source's evaluations when they measure the same thing."""
    if not store.exists(INIT_FROM):
        return None
    info = store.read_json(INIT_FROM)
    if "seeds" in info:  # decided in an earlier session: replay it
        return np.array(info["seeds"], dtype=int).reshape(len(info["seeds"]), problem.n_var) if info["seeds"] else None
    src = _source(info["source"])
    points = problem.points
    copy, copy_why = same_measurement(cfg, src.config)

    def valid(record) -> Optional[Tuple[np.ndarray, Any]]:
        x = _encode(points, src, record)
        if x is None:
            return None
        [p] = points.points(x[None])
        if p.arch_id != record["arch_id"] or any(v > 0 for v in problem.violations(p)):
            return None
        return x, p

    front = src.front()
    found = [(r, valid(r)) for r in front]
    ok = [(r, v) for r, v in found if v is not None]
    n = cfg.engine.pop_size
    if len(ok) > n:  # spread over the front (sorted by parameters)
        ok = [ok[int(i)] for i in np.round(np.linspace(0, len(ok) - 1, n))]
    seeds = [v[0] for _, v in ok]
    copied: List[str] = []
    if copy:
        copied = _copy_records(store, problem, src, valid)
    info.update({"seeds": [[int(v) for v in x] for x in seeds], "seed_ids": [v[1].arch_id for _, v in ok],
                 "front_size": len(front), "not_in_new_space": sum(v is None for _, v in found),
                 "evaluations": "copied" if copy else "not copied", "evaluations_why": copy_why,
                 "copied_ids": copied})
    store.write_json(INIT_FROM, info)
    progress.info(
        f"init from {src.root}: {len(seeds)} of its {len(front)} front members seed generation 0"
        + (f" ({info['not_in_new_space']} not in this run's space or constraints)" if info["not_in_new_space"] else "")
        + (f"; {len(copied)} of its evaluations copied, not trained again ({copy_why})" if copy else
           f"; its evaluations are not reused: {copy_why}, so the seeds are trained in this run")
    )
    return np.array(seeds, dtype=int).reshape(len(seeds), problem.n_var) if seeds else None


def _copy_records(store: RunStore, problem: NetworkProblem, src: RunResults, valid) -> List[str]:
    """Copy the source's full-budget networks valid here (all rungs, weights when kept) into the
    new run's evaluations, and into the problem's cache. Returns their arch ids."""
    have = {(r["arch_id"], r.get("epochs")) for r in problem.records.evaluations()}  # a killed copy resumes
    top = top_budget(src.config)
    last: Dict[Tuple[str, Any], Dict[str, Any]] = {}
    for r in src.store.records(EVALS):  # as written, the last one per (arch id, budget)
        last[(r["arch_id"], r.get("epochs"))] = r
    records = [r for r in last.values() if r.get("status") == "ok"]
    reached = {r["arch_id"] for r in records if r.get("epochs") == top}
    out: Dict[str, None] = {}
    checked: Dict[str, Optional[Tuple[np.ndarray, Any]]] = {}
    for r in sorted(records, key=lambda r: (r.get("epochs") or 0)):
        aid = r["arch_id"]
        if aid not in reached:
            continue
        if aid not in checked:
            checked[aid] = valid(r)
        if checked[aid] is None:
            continue
        rec = dict(r)
        rec.update(x=[int(v) for v in checked[aid][0]], generation=-1, copied_from=str(src.root))
        rec.pop("weights", None)
        if r.get("weights") and r.get("epochs") == top and src.store.exists(r["weights"]):
            store.write_bytes(r["weights"], src.store.path(r["weights"]).read_bytes())
            rec["weights"] = r["weights"]
        if (aid, rec.get("epochs")) not in have:
            problem.records.save_evaluation(rec, rec.get("epochs"))
        problem.scheduler.remember(rec)
        out[aid] = None
    return list(out)
