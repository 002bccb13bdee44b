"""The analytic cost model must agree exactly with FlopCounterMode and numel."""

import random

import numpy as np
import pytest

from hybridnas.config import NetworkConfig
from hybridnas.network.builder import build_network
from hybridnas.network.costs import measured_cost, network_cost
from hybridnas.space.genome import ArchSpec, GenomeSpace
from hybridnas.space.genotype import BlockGenotype
from tests.unit.test_genotype import random_cell

CASES = [  # (in_chans, image size, nodes)
    (1, (8, 8), 2),
    (3, (7, 9), 3),
    (3, (16, 16), 4),
]


@pytest.mark.parametrize("in_chans,size,nodes", CASES)
def test_cost_model_matches_flop_counter_on_random_genomes(in_chans, size, nodes):
    rng = random.Random(nodes)
    blocks = tuple(BlockGenotype(random_cell(rng, nodes), random_cell(rng, nodes)) for _ in range(3))
    space = GenomeSpace(
        NetworkConfig(stages=3, blocks=(1, 2), widths=(0.5, 1.0, 1.5), stem=(6, 8), base_width=6, downsample=(0, 1)), 3
    )
    for x in space.spec.sample(np.random.default_rng(nodes), 8):
        spec = ArchSpec(space.decode(x), blocks, 6, nodes, in_chans, 5, size)
        model = build_network(spec)
        expected = measured_cost(model, (in_chans, *size))
        got = network_cost(spec)
        assert (got.params, got.macs) == (expected.params, expected.macs), spec.genome
        assert got.flops == 2 * got.macs
