"""The whole search, from a config to a front: what ``hybridnas search`` runs.

- :mod:`.rundir`: a run directory, new or resumed (:func:`open_run`), and its manifest;
- :mod:`.validate`: the checks that need the data or the machine, before anything is written;
- :mod:`.search`: :func:`run_search`, the stages in order (its docstring says which).
"""

from .rundir import EXTENSIBLE, RUNS_DIR, check_resumed, config_source, extend, manifest, new_run_dir, open_run
from .search import SESSION_TIMES, failure_summary, run_search
from .validate import validate

__all__ = ["EXTENSIBLE", "RUNS_DIR", "SESSION_TIMES", "check_resumed", "config_source", "extend", "failure_summary",
           "manifest", "new_run_dir", "open_run", "run_search", "validate"]
