"""Search-space vocabulary: operations, cell genotypes, network genomes."""
