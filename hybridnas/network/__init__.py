"""Network level: genomes built into networks, their costs, and the multi-objective search."""
