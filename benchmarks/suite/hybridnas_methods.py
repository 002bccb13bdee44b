"""hybridnas' own searches on a table: ``hybridnas search`` run in-process, the order it evaluated in.

- ``surrogate``: the default search (the surrogate-assisted loop);
- ``pymoo``, ``deap``: plain NSGA-II on either engine (``engine.surrogate.enabled=false``).

The budget is ``engine.evaluations`` (distinct networks); ``pop`` sets ``engine.pop_size`` (also
the surrogate's batch) unless it is 0, which keeps the space's own setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

from hybridnas.pipeline import open_run, run_search
from hybridnas.progress import Progress


def search_order(space: str, seed: int, n: int, out: Path, engine: str, surrogate: bool, pop: int,
                 extra: Sequence[str] = ()) -> List[str]:
    """Arch ids in the order a real ``hybridnas search`` evaluated them."""
    over = [f"seed={seed}", f"engine.name={engine}", "engine.algorithm=nsga2", "engine.generations=null",
            f"engine.evaluations={n}", f"engine.surrogate.enabled={str(surrogate).lower()}"]
    if pop:
        over.append(f"engine.pop_size={pop}")
    cfg, store = open_run(space, [*over, *extra], name=f"{engine}-{int(surrogate)}-{seed}", out=out)
    run_search(cfg, store, Progress(quiet=True), export=False)
    return list(dict.fromkeys(r["arch_id"] for r in store.records("evaluations.jsonl")))
