"""hybridnas: two-stage multi-objective neural architecture search for small image classifiers.

Block level: a differentiable search (the enhanced gradient by default) designs a library of
cells on a weight-sharing supernet. Network level: NSGA-II assembles those cells into whole
networks and returns a Pareto front of accuracy against parameters and FLOPs.

The Python API mirrors the CLI; its heavy imports happen on first use::

    import hybridnas
    run = hybridnas.search("digits", engine__generations=4)   # or search("spaces/my.yaml")
    best = run.pick(rule="knee")[0]                            # a record (dict)
    model = hybridnas.load(run.export(best["arch_id"]))
"""

__all__ = ["__version__", "search", "load", "Run", "UserError"]

from .core.version import __version__
from .errors import UserError


def __getattr__(name):
    if name in ("search", "load"):
        from . import api

        return getattr(api, name)
    if name == "Run":
        from .run import Run

        return Run
    raise AttributeError(f"module 'hybridnas' has no attribute {name!r}")
