"""Block strategies: one file each, all on the :class:`~.base.BlockStrategy` interface."""

from ...registry import Registry

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
