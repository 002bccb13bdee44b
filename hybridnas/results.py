"""Reading a run: its config, dataset shape, block library, evaluations, front and models.

Everything that looks at a finished (or running) search - pick, plot, export, train, report,
the Python ``Run`` - reads through here, so the layout of the run directory has one reader.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Any, Dict, List, Optional

from .config import RunConfig, config_from_dict
from .core.objectives import cost_objectives, maximized, pareto_front, top_budget
from .errors import UserError
from .progress import say
from .store import RunStore
from .store.layout import (
    BLOCKS,
    CONFIG,
    DATASET,
    EVALS,
    GENERATION_FILES,
    GENERATIONS,
    MODEL,
    PICKS,
    SUMMARY,
    SURROGATE,
    SURROGATE_FILES,
    TRAINED,
    trained_dir,
)


def warn_loss(command: str, run) -> None:
    """``hybridnas <command>: warning: <loss_line>`` on stderr and to the logger, when a run lost records."""
    results = run if isinstance(run, RunResults) else RunResults(run)
    line = results.loss_line()
    if line:
        if results.lost()["lost"]:
            line += (f"; {command} used the records left: resume the search (hybridnas search --resume "
                     f"{results.root}) to train the lost ones again")
        say(f"hybridnas {command}: warning: {line}", logging.WARNING)


class RunResults:
    def __init__(self, path):
        self.store = path if isinstance(path, RunStore) else RunStore.open_existing(Path(path))

    @property
    def root(self) -> Path:
        return self.store.root

    @cached_property
    def config(self) -> RunConfig:
        import yaml

        p = self.store.path(CONFIG)
        try:
            data = yaml.safe_load(p.read_text())
        except FileNotFoundError:
            raise UserError(f"run '{self.root}' has no config.yaml; it is incomplete") from None
        except yaml.YAMLError:
            raise UserError(f"'{p}' is corrupted (invalid YAML); the run cannot be read") from None
        return config_from_dict(data, source=str(p), validate=False)

    @cached_property
    def dataset(self) -> Dict[str, Any]:
        return self.store.read_json(DATASET)

    @cached_property
    def library(self):
        from .space.library import load_library

        if not self.store.exists(BLOCKS):
            raise UserError(f"run '{self.root}' has no block library yet; resume the search to finish the block stage")
        return load_library(self.store)

    def records(self, status: Optional[str] = "ok", budget: Any = "top") -> List[Dict[str, Any]]:
        """Evaluation records, one per (arch id, budget).

        ``budget``: ``"top"`` (default) keeps the full budget, ``evaluation.epochs`` - the one the
        front compares; with multi-fidelity, lower rungs are ``budget=<epochs>`` or ``"all"``.
        A tabular run's records have budget ``None`` (a lookup), which ``"top"`` means there.
        """
        from .core.uncertainty import fill_standard_errors

        recs = self.store.records(EVALS)
        last: Dict[Any, Dict[str, Any]] = {}
        for r in recs:
            last[(r["arch_id"], r.get("epochs"))] = r
        sizes = self.split_sizes()
        out = [fill_standard_errors(r, sizes) for r in last.values()]
        if status is not None:
            out = [r for r in out if r.get("status") == status]
        if budget == "all":
            return out
        want = top_budget(self.config) if budget == "top" else budget
        return [r for r in out if r.get("epochs") == want]

    def split_sizes(self) -> Dict[str, int]:
        """Images per split (``{}`` for a tabular run): what each accuracy was measured on."""
        if not self.store.exists(DATASET):
            return {}
        return {k: int(v) for k, v in self.dataset.get("sizes", {}).items()}

    def trained_split_sizes(self, record: Dict[str, Any]) -> Dict[str, int]:
        """Images per split of a full training's accuracies (``hybridnas train`` uses all of the
        data, not the search's caps); the search's sizes for records made before it said."""
        sizes = (record.get("data") or {}).get("sizes")
        return {k: int(v) for k, v in sizes.items()} if sizes else self.split_sizes()

    def front(self) -> List[Dict[str, Any]]:
        """The front (all objectives), each member marked when its accuracy is within noise of a
        member that costs no more (:func:`~hybridnas.core.uncertainty.mark_within_noise`)."""
        from .core.uncertainty import mark_within_noise

        objectives, maximize = self.config.objectives, maximized(self.config)
        front = pareto_front(self.records(), objectives, maximize)
        return mark_within_noise(front, cost_objectives(objectives, maximize))

    def empty_front(self) -> UserError:
        """The error for a run with nothing on its front, saying why: not searched yet, every
        model failed, or the constraints left nothing feasible."""
        recs = self.records(status=None, budget="all")
        searched = bool(recs) or self.store.exists(SUMMARY) or self.store.exists(GENERATIONS)
        if not searched:
            return UserError(f"run '{self.root}' has no evaluated models yet; let the search run (or resume it) first")
        failed = sum(r.get("status") != "ok" for r in recs)
        limits = {k: v for k, v in vars(self.config.constraints).items() if v is not None}
        why = []
        if failed:
            why.append(f"{failed} of {len(recs)} evaluated models failed (reasons in evaluations.jsonl)")
        if limits:
            why.append(f"no {'other ' if failed else ''}model met "
                       + ", ".join(f"{k}={v:g}" for k, v in limits.items()))
        return UserError(f"run '{self.root}' has no model on its front: {'; '.join(why) or 'nothing was evaluated'}; "
                         "relax the constraints (or fix the failures) and start a new search")

    def generations(self) -> List[Dict[str, Any]]:
        out = []
        for p in sorted(self.store.path(GENERATIONS).glob(GENERATION_FILES)):
            out.append(self.store.read_json(str(p.relative_to(self.root))))
        return out

    def surrogate_iterations(self) -> List[Dict[str, Any]]:
        """``surrogate/iter_NNN.json`` of a surrogate-assisted search, in order (none otherwise)."""
        return [self.store.read_json(str(p.relative_to(self.root)))
                for p in sorted(self.store.path(SURROGATE).glob(SURROGATE_FILES))]

    def record(self, ident: str) -> Dict[str, Any]:
        """The record of an arch id, or of a unique prefix of one."""
        recs = self.records(status=None, budget="all")
        matches = {r["arch_id"] for r in recs if r["arch_id"].startswith(ident)}
        if not matches:
            raise UserError(f"no evaluated model with id '{ident}' in run '{self.root}'; see front.csv for ids")
        if len(matches) > 1:
            raise UserError(f"id '{ident}' is ambiguous in run '{self.root}' ({len(matches)} matches); "
                            "give more characters")
        aid = matches.pop()
        # the longest budget it reached (multi-fidelity keeps one record per rung)
        return max((r for r in recs if r["arch_id"] == aid), key=lambda r: r.get("epochs") or 0)

    def spec(self, record: Dict[str, Any], trained: bool = False):
        """The network of ``record``, as searched; ``trained``: as fully trained (``hybridnas
        train`` may train at another image size - cells and head do not depend on it)."""
        from .space.genome import ArchSpec, Genome

        if self.config.tabular:
            raise UserError(f"run '{self.root}' searched a table: its models are rows of {self.config.table.path}, "
                            "not networks hybridnas can build")
        d = self.dataset
        spec = ArchSpec(
            genome=Genome.parse(record["genome"]),
            blocks=tuple(e.genotype for e in self.library),
            base_width=self.config.network.base_width,
            nodes=self.config.cell.nodes,
            in_chans=int(d["in_chans"]),
            num_classes=int(d["num_classes"]),
            image_size=tuple(d["image_size"]),
        )
        if spec.arch_id != record["arch_id"]:
            raise UserError(
                f"record {record['arch_id']} does not match the run's library (rebuilt id {spec.arch_id}); "
                f"{BLOCKS} was changed after the search"
            )
        size = (self.trained().get(record["arch_id"]) or {}).get("image_size") if trained else None
        if size and tuple(size) != spec.image_size:
            import dataclasses

            spec = dataclasses.replace(spec, image_size=tuple(int(v) for v in size))
        return spec

    def weights_path(self, record: Dict[str, Any]) -> Optional[Path]:
        """Fully trained weights if ``hybridnas train`` ran, else the proxy-trained ones."""
        full = self.store.path(f"{trained_dir(record['arch_id'])}/{MODEL}")
        if full.exists():
            return full
        rel = record.get("weights")
        if rel and self.store.path(rel).exists():
            return self.store.path(rel)
        return None

    def model(self, record: Dict[str, Any], weights: bool = True):
        from .space.builder import build_network

        p = self.weights_path(record) if weights else None
        full = p is not None and p == self.store.path(f"{trained_dir(record['arch_id'])}/{MODEL}")
        model = build_network(self.spec(record, trained=full))
        if weights:
            if p is None:
                raise UserError(
                    f"model {record['arch_id']} has no saved weights in this run; train it with "
                    f"'hybridnas train {self.root} --id {record['arch_id']}'"
                )
            fix = f"train the model again with 'hybridnas train {self.root} --id {record['arch_id']}'"
            model.load_state_dict(self.store.load_tensors(str(p.relative_to(self.root)), fix=fix))
        return model.eval()

    def lost(self) -> Dict[str, Any]:
        """Records missing from ``evaluations.jsonl``: ``expected`` (how many full-budget results
        the run's summary or last generation counts), ``found``, ``lost``, and ``cut``, the number
        of a last line cut short (of any JSON-lines file the readers use), by file."""
        last: Dict[Any, Dict[str, Any]] = {}
        for r in self.store.records(EVALS):
            last[r["arch_id"], r.get("epochs")] = r
        self.store.records(TRAINED)  # for its cut line
        cut = {rel: self.store.cut[rel] for rel in (EVALS, TRAINED) if rel in self.store.cut}
        top = top_budget(self.config)
        found_all = [r for (_, ep), r in last.items() if ep == top]
        found_ok = sum(r.get("status") == "ok" for r in found_all)
        expected, lost = len(found_all), 0
        try:
            summary = self.store.read_json(SUMMARY, default=None) or {}
            gens = sorted(self.store.path(GENERATIONS).glob(GENERATION_FILES))
            gen = self.store.read_json(str(gens[-1].relative_to(self.root))) if gens else {}
        except UserError:  # a damaged summary or generation counts nothing
            summary, gen = {}, {}
        if "evaluated" in summary:  # ok and failed results at the full budget
            n = int(summary["evaluated"]) + int(summary.get("failed") or 0)
            lost, expected = max(lost, n - len(found_all)), max(expected, n)
        if "evaluated" in gen:  # ok results at the full budget, so far
            n = int(gen["evaluated"])
            if n - found_ok > lost:
                lost, expected = n - found_ok, len(found_all) + n - found_ok
        return {"expected": expected, "found": len(found_all), "lost": lost, "cut": cut}

    def loss_line(self) -> Optional[str]:
        """One line saying what :meth:`lost` found (``None`` when nothing is missing), e.g.
        ``evaluations.jsonl: 9 of 18 records lost (line 10 cut)``."""
        info = self.lost()
        parts = []
        if info["lost"] or EVALS in info["cut"]:
            cut = f"line {info['cut'][EVALS]} cut" if EVALS in info["cut"] else ""
            if info["lost"]:
                cut = f" ({cut})" if cut else ""
                parts.append(f"{EVALS}: {info['lost']} of {info['expected']} records lost{cut}")
            else:
                parts.append(f"{EVALS}: {cut} (a record being written when the search stopped)")
        if TRAINED in info["cut"]:
            parts.append(f"{TRAINED}: line {info['cut'][TRAINED]} cut (a full training's record; train it again)")
        return "; ".join(parts) or None

    def picks(self) -> List[Dict[str, Any]]:
        return self.store.read_json(PICKS, default={"picks": []})["picks"]

    def trained(self) -> Dict[str, Dict[str, Any]]:
        """Fully trained models (``hybridnas train``): the latest record per arch id."""
        out: Dict[str, Dict[str, Any]] = {}
        for r in self.store.records(TRAINED):
            out[r["arch_id"]] = r
        return out
