"""Block strategies: one file each, all on the :class:`~.base.BlockStrategy` interface."""

from typing import Any, Mapping, Set

from ...config import RunConfig, where
from ...registry import CONFIG_HOOKS, Registry

STRATEGIES = Registry(
    "block strategy",
    modules=[
        "hybridnas.block.strategies.darts",
        "hybridnas.block.strategies.enhanced",
        "hybridnas.block.strategies.gdas",
        "hybridnas.block.strategies.egs",
        "hybridnas.block.strategies.ddpnas",
        "hybridnas.block.strategies.shrink",
        "hybridnas.block.strategies.cdarts",
    ],
)


@CONFIG_HOOKS.register("block.strategy")
def check_strategy(cfg: RunConfig, source: str = "config") -> None:
    """The config's ``block.strategy`` hook: a known strategy, its options valid alone and under
    each library member's overrides."""
    b = cfg.block
    strategy_cls = STRATEGIES.get(b.strategy.name, key="block.strategy")
    # the block stage builds the strategy with its own options first (the shared warm-up, the
    # memory estimate): they must be valid alone, not only under each library member's overrides
    strategy_cls.parse_options(b.strategy.options, source=f"{where(source, 'block.strategy')}: block.strategy "
                               f"({b.strategy.name} options)")
    origin = where(source, "block.library")  # the members' options come from the library and the strategy
    strategy_cls.check_config(cfg, origin if origin != str(source) else where(source, "block.strategy"))


@CONFIG_HOOKS.register("block.strategy options")
def strategy_option_names(name: str, options: Mapping[str, Any]) -> Set[str]:
    """The config's ``block.strategy options`` hook: the option keys strategy ``name`` accepts
    (what a switch to it keeps of another strategy's options)."""
    return STRATEGIES.get(name, key="block.strategy").option_names(options)
