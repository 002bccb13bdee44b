"""Layer 0: helpers with no hybridnas imports above them, which every other layer may use."""
