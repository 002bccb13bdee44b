"""The analytic cost model must agree exactly with FlopCounterMode and numel."""

import random

import numpy as np
import pytest

from hybridnas.config import NetworkConfig
from hybridnas.space.builder import build_network
from hybridnas.space.costs import measured_cost, network_cost
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


def test_smallest_cost_is_exact_with_a_library_and_a_bound_without():
    """Brute force over every genome of the tiny space: ``smallest_cost`` finds the least params
    and MACs exactly given the library, and without one gives a bound at or below them."""
    import itertools

    from hybridnas.config import load_config
    from hybridnas.space.costs import smallest_cost
    from tests.conftest import TINY, TINY_BLOCKS

    cfg = load_config(TINY, [])
    bound = smallest_cost(cfg.network, cfg.cell.nodes, 1, 10, (8, 8))
    # the first tiny block has convolutions; the second only parameter-free ops (the bound's case)
    for blocks, above in (((TINY_BLOCKS[0],), True), (TINY_BLOCKS, False)):
        blocks = tuple(BlockGenotype.parse(b) for b in blocks)
        space = GenomeSpace(cfg.network, len(blocks))
        genes = itertools.product(*[range(int(lo), int(hi) + 1) for lo, hi in zip(space.spec.xl, space.spec.xu)])
        costs = [network_cost(ArchSpec(space.decode(np.array(x)), blocks, cfg.network.base_width, cfg.cell.nodes,
                                       1, 10, (8, 8))) for x in genes]
        exact = smallest_cost(cfg.network, cfg.cell.nodes, 1, 10, (8, 8), blocks)
        assert (exact.params, exact.macs) == (min(c.params for c in costs), min(c.macs for c in costs))
        assert (bound.params < exact.params and bound.macs < exact.macs) if above else bound == exact
    assert smallest_cost(cfg.network, cfg.cell.nodes, 1, 10, (8, 8), limit=10) is None
