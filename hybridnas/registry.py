"""One small registry type, used for ops, block strategies, engines and evaluators.

Entries are registered by decorator where they are defined; ``Registry.get`` turns an unknown name
into a :class:`~hybridnas.errors.UserError` that lists the known ones. Modules that register
entries are imported lazily through ``loader`` so that importing the registry stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Callable, Dict, Generic, Iterable, Optional, TypeVar

from .errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, modules: Iterable[str] = ()):
        self.kind = kind
        self._entries: Dict[str, T] = {}
        self._modules = tuple(modules)
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._entries[name] = obj
            return obj

        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self._modules:
                importlib.import_module(mod)

    def get(self, name: str, key: Optional[str] = None) -> T:
        self._load()
        if name not in self._entries:
            where = f" (at '{key}')" if key else ""
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(
                f"unknown {self.kind} '{name}'{where}; {hint}choose one of: {', '.join(self.names())}"
            )
        return self._entries[name]

    def names(self) -> list:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries


# Checks of a run config that need what a higher layer owns. The config package (layer 1) imports
# none of these modules: it calls the hook registered here under the key it checks, and the modules
# that register them are named here, so they are imported on first use however the config was reached
# (a registry filled only when they happen to be imported would be empty when a config is loaded
# first). Each hook raises a one-line UserError; the signatures:
#   "cell.ops"                     (ops, ck)              each op a known operation (hybridnas.space.ops)
#   "table"                        (cfg, source) -> rows  a tabular space's table read and checked (space.table)
#   "block.strategy"               (cfg, source)          the strategy and its options, alone and per member
#   "block.strategy options"       (name, options) -> set the option keys strategy `name` accepts
#   "evaluation.evaluator"         (cfg, source)          the evaluator and what it needs (hybridnas.evaluate)
#   "engine"                       (engine_cfg, ck)       the engine and its algorithm (network.engines)
#   "engine.surrogate.predictor"   (name)                 a known predictor (network.predictors)
CONFIG_HOOKS: Registry[Callable] = Registry(
    "config hook",
    modules=["hybridnas.space.ops", "hybridnas.space.table", "hybridnas.block.strategies", "hybridnas.evaluate",
             "hybridnas.network.engines.base", "hybridnas.network.predictors"],
)
