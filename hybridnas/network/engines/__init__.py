"""Multi-objective engines over the :class:`~hybridnas.network.engines.base.Problem` protocol (see
:mod:`.base`); one module per engine, registered by name."""
