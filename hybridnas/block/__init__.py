"""Block level: the weight-sharing supernet, the search strategies, derivation, the stage driver."""
