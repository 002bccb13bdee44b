"""What the network stage keeps in the run store, in one place.

- ``evaluations.jsonl``: one record per evaluated candidate and budget, appended as it finishes
  (its weights and multi-fidelity checkpoint saved first: a record implies the files it names);
- ``generations/gen_NNN.json``: each generation's population and counts;
- ``surrogate/iter_NNN.json``: each iteration of the surrogate loop;
- ``front.csv`` / ``front.json``: the front of everything evaluated so far (:func:`write_front`);
- ``hv_reference.json``: the bounds that normalise the hypervolume, written once;
- ``weights/``: pruned to the front when ``evaluation.keep_weights`` is ``front``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..core.objectives import cost_objectives, error
from ..core.uncertainty import NOISE_COLUMNS, mark_within_noise
from ..space.library import CONVENTION
from ..store import RunStore
from ..store.layout import (
    EVALS,
    FRONT_CSV,
    FRONT_JSON,
    HV_REFERENCE,
    fidelity_checkpoint,
    generation,
    proxy_weights,
    surrogate_iteration,
)

FRONT_COLUMNS = ("arch_id", "genome", "val_acc", "val_acc_se", "test_acc", "test_acc_se", "within_noise_of", "error",
                 "params", "macs", "flops", "latency", "epochs", "seconds")


class StageRecords:
    """The network stage's reads and writes of its run store."""

    def __init__(self, store: RunStore):
        self.store = store

    # ------------------------------------------------------------------ evaluations

    def load_evaluations(self) -> List[Dict[str, Any]]:
        """The records written so far (a last line cut short by a kill is repaired first)."""
        self.store.repair(EVALS)
        return self.store.records(EVALS)

    def evaluations(self) -> List[Dict[str, Any]]:
        return self.store.records(EVALS)

    def save_evaluation(self, record: Dict[str, Any], budget: Optional[int],
                        checkpoint: Optional[Dict[str, Any]] = None, weights: Optional[Dict[str, Any]] = None) -> None:
        """Append ``record`` (evaluated at ``budget``); first save the rung's ``checkpoint``
        (multi-fidelity) and the trained ``weights`` (the record then names them)."""
        if checkpoint is not None:
            self.store.save_tensors(fidelity_checkpoint(record["arch_id"], budget), checkpoint)
        if weights is not None:
            rel = proxy_weights(record["arch_id"])
            self.store.save_tensors(rel, weights)
            record["weights"] = rel
        self.store.append(EVALS, record)

    def checkpoint(self, arch_id: str, budget: Optional[int]) -> Optional[Dict[str, Any]]:
        """The state a rung at ``budget`` left for the next one, if it is there."""
        rel = fidelity_checkpoint(arch_id, budget)
        return self.store.load_tensors(rel) if self.store.exists(rel) else None

    def drop_checkpoint(self, arch_id: str, budget: int) -> None:
        try:
            self.store.path(fidelity_checkpoint(arch_id, budget)).unlink()
        except FileNotFoundError:
            pass

    def prune_weights(self, keep: Sequence[str]) -> None:
        """Delete the saved weights of every network but those of ``keep`` (arch ids)."""
        keep = set(keep)
        for f in self.store.path("weights").glob("*.pt"):
            if f.stem not in keep:
                try:
                    f.unlink()
                except FileNotFoundError:
                    pass

    # ------------------------------------------------------------------ per generation

    def has_generation(self, gen: int) -> bool:
        return self.store.exists(generation(gen))

    def write_generation(self, gen: int, summary: Dict[str, Any]) -> None:
        self.store.write_json(generation(gen), summary)

    def write_surrogate(self, gen: int, iteration: Dict[str, Any]) -> None:
        self.store.write_json(surrogate_iteration(gen), iteration)

    def reference(self, make: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
        """``hv_reference.json``: as written (a resume reuses it), else ``make()``, written once."""
        if self.store.exists(HV_REFERENCE):
            return self.store.read_json(HV_REFERENCE)
        ref = make()
        self.store.write_json(HV_REFERENCE, ref)
        return ref

    def write_front(self, front: List[Dict[str, Any]], objectives: Sequence[str], maximize: Sequence[str] = (),
                    extra_columns: Sequence[str] = (), source: Optional[str] = None) -> None:
        write_front(self.store, front, objectives, maximize, extra_columns, source)


def write_front(store: RunStore, front: List[Dict[str, Any]], objectives: Sequence[str], maximize: Sequence[str] = (),
                extra_columns: Sequence[str] = (), source: Optional[str] = None) -> None:
    """``front.csv`` (a plain table) and ``front.json`` (its columns, objectives and conventions)."""
    rows = [{**r, "error": error(r)} if ("val_acc" in r or "error" in r) else dict(r) for r in front]
    rows = mark_within_noise(rows, cost_objectives(objectives, maximize))

    def present(c):
        return any(r.get(c) is not None for r in rows)

    columns = [c for c in FRONT_COLUMNS if c in ("arch_id", "genome") or present(c)]
    columns += [c for c in list(objectives) + list(extra_columns) if c not in columns and present(c)]
    where = source or "accuracy on the validation split after proxy training"
    # front.csv is a plain table (pandas.read_csv reads it with no options); what its columns
    # mean, the objectives and the FLOPs convention are in front.json beside it
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in columns})
    store.write_text(FRONT_CSV, buf.getvalue())
    notes = ["columns as in the table; nothing was trained" if source else CONVENTION]
    if present("val_acc_se"):
        notes.append(NOISE_COLUMNS)
    store.write_json(
        FRONT_JSON,
        {"objectives": list(objectives), "maximize": list(maximize), "convention": CONVENTION,
         "accuracy": where, "columns": columns, "notes": notes, "members": rows},
    )
