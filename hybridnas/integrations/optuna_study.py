"""The Optuna bridge: a run's evaluations as the trials of a multi-objective Optuna study
(``hybridnas export-study RUN --storage journal.log``), so optuna-dashboard and Optuna's plots
(``optuna.visualization.plot_pareto_front``...) work on a hybridnas search.

One trial per distinct network, in the order they were first evaluated:

- its values are the run's objectives at the top budget, with the run's directions (``error`` =
  1 - validation accuracy, costs minimised; a tabular space's maximised columns maximised), the
  metric names set to the objectives' names; the study's ``best_trials`` is the run's front;
- its params are the genes of its genome (an integer range as ``IntDistribution``, a choice as
  ``CategoricalDistribution`` of the values the space lists), when the run kept them;
- user attributes: ``arch_id``, ``genome``, ``generation``, accuracies, costs and epochs;
- a failed evaluation is a ``FAIL`` trial with its ``reason``; with multi-fidelity, a network
  stopped at a lower budget is ``PRUNED``, its lower rungs' errors as intermediate values.

Written into Optuna's journal file storage
(``JournalStorage(JournalFileBackend(path))``), an existing journal keeps its other studies;
the file is replaced in one step (readers see it before or after, never half), so do not run
this while another process writes the same journal. Needs the ``optuna`` extra.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import UserError, require

ATTRS = ("arch_id", "genome", "generation", "status", "reason", "val_acc", "val_acc_se", "test_acc", "test_acc_se",
         "params", "macs", "flops", "latency", "epochs", "seconds")


def gene_spec(results):
    """The run's :class:`~hybridnas.space.genes.GeneSpec` (None when it cannot be rebuilt: a table
    that moved, a run without its block library)."""
    cfg = results.config
    try:
        if cfg.tabular:
            from ..space.table import load_table

            return load_table(cfg).spec
        from ..space.genome import GenomeSpace

        return GenomeSpace(cfg.network, len(results.library)).spec
    except UserError:
        return None


def distributions(spec) -> Dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    out: Dict[str, Any] = {}
    for g in spec.genes:
        if g.kind == "int":
            out[g.name] = IntDistribution(g.low, g.high)
        elif g.kind == "binary":
            out[g.name] = CategoricalDistribution((False, True))
        else:
            out[g.name] = CategoricalDistribution(tuple(_plain(c) for c in g.choices))
    return out


def _plain(v: Any) -> Any:
    """numpy scalars as Python ones (Optuna stores choices as JSON)."""
    return v.item() if hasattr(v, "item") else v


def trials(results) -> List[Any]:
    """The run's evaluations as Optuna ``FrozenTrial`` s (module docstring)."""
    import optuna
    from optuna.trial import TrialState

    from ..core.objectives import maximized, objective_value, top_budget

    cfg = results.config
    objectives, maximize, top = tuple(cfg.objectives), maximized(cfg), top_budget(cfg)
    spec = gene_spec(results)
    dists = distributions(spec) if spec is not None else {}
    by_arch: Dict[str, List[Dict[str, Any]]] = {}
    for r in results.records(status=None, budget="all"):
        by_arch.setdefault(r["arch_id"], []).append(r)
    out = []
    for recs in by_arch.values():
        recs.sort(key=lambda r: (r.get("epochs") is not None, r.get("epochs") or 0))
        last = next((r for r in recs if r.get("epochs") == top), recs[-1])
        state = (TrialState.COMPLETE if last.get("status") == "ok" else TrialState.FAIL) \
            if last.get("epochs") == top else (TrialState.FAIL if last.get("status") != "ok" else TrialState.PRUNED)
        values = None
        if state == TrialState.COMPLETE:
            values = [float(last[o]) if o in maximize else objective_value(last, o) for o in objectives]
        steps = {int(r["epochs"]): objective_value(r, "error") for r in recs  # the lower rungs
                 if r.get("epochs") not in (None, top) and r.get("status") == "ok" and "val_acc" in r}
        params = {}
        if spec is not None and last.get("x") is not None and len(last["x"]) == spec.n_var:
            params = {k: _plain(v) for k, v in spec.decode(last["x"]).items()}
        attrs = {k: _plain(last[k]) for k in ATTRS if last.get(k) is not None}
        out.append(optuna.trial.create_trial(
            state=state, values=values, params=params, distributions={k: dists[k] for k in params},
            user_attrs=attrs, intermediate_values=steps or None))
    return out


def is_journal(path: Path) -> bool:
    """Whether ``path`` holds Optuna journal lines (JSON objects with an ``op_code``) and nothing else."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip() and "op_code" not in json.loads(line):
                    return False
    except (UnicodeDecodeError, ValueError, TypeError):
        return False
    return True


def export_study(run, storage: str, study_name: Optional[str] = None):
    """Write ``run`` (a path or :class:`hybridnas.Run`) into the journal file ``storage`` as the
    study ``study_name`` (default: the run directory's name); returns the study (reloaded from
    the written file). An existing study of that name is refused (:class:`UserError`)."""
    require("optuna", "optuna", "exporting a run as an Optuna study")
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from ..core.objectives import maximized
    from ..results import RunResults
    from ..store.run import atomic_write

    results = run.results if hasattr(run, "results") else RunResults(run)
    cfg = results.config
    name = study_name or results.root.resolve().name
    target = Path(storage)
    if target.is_dir():
        raise UserError(f"--storage '{target}' is a folder; give a journal file such as {target / 'journal.log'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line per export
    if target.exists():
        if not is_journal(target):  # never append a study to some other file
            raise UserError(f"'{target}' is not an Optuna journal file; give a new file name with --storage")
        names = optuna.get_all_study_names(JournalStorage(JournalFileBackend(str(target))))
        if name in names:
            raise UserError(f"study '{name}' already exists in {target}; choose another --study-name "
                            "(or delete the study with: optuna delete-study)")
    found = trials(results)
    if not found:
        raise results.empty_front()
    maximize = maximized(cfg)
    directions = ["maximize" if o in maximize else "minimize" for o in cfg.objectives]
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "journal.log"
        if target.exists():
            shutil.copyfile(target, journal)
        study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(journal))), study_name=name,
                                    directions=directions)
        with warnings.catch_warnings():  # metric names are "experimental" in Optuna, and in its dashboard
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(cfg.objectives))
        study.set_user_attr("hybridnas_run", str(results.root.resolve()))
        study.set_user_attr("objectives", list(cfg.objectives))
        study.add_trials(found)
        atomic_write(target, journal.read_bytes())
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(target))))
