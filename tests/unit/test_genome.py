import numpy as np
import pytest

from hybridnas.config import NetworkConfig
from hybridnas.errors import UserError
from hybridnas.space.genome import ArchSpec, Genome, GenomeSpace, Stage
from hybridnas.space.genotype import BlockGenotype, CellGenotype

CELL = CellGenotype.parse("sep_conv_3x3@0+skip_connect@1|max_pool_3x3@0+dil_conv_3x3@2")
BLOCKS = (BlockGenotype(CELL, CELL), BlockGenotype(CELL, CellGenotype.parse("skip_connect@0|skip_connect@1")))


def space():
    cfg = NetworkConfig(stages=3, blocks=(1, 3), widths=(0.5, 1.0, 1.5), stem=(8, 16), base_width=8, downsample=(0, 1))
    return GenomeSpace(cfg, n_blocks=2)


def test_genome_string_round_trips_over_the_space():
    s = space()
    rng = np.random.default_rng(0)
    for x in s.spec.sample(rng, 300):
        g = s.decode(x)
        assert Genome.parse(g.to_string()) == g
        assert np.array_equal(s.encode(g), x)


def test_documented_example():
    g = Genome.parse("stem16-r2b0w1d0-r1b2w1.5d1-r3b1w2d1")
    assert g.stem == 16 and g.stages[1] == Stage(1, 2, 1.5, True)
    assert g.to_string() == "stem16-r2b0w1d0-r1b2w1.5d1-r3b1w2d1"


@pytest.mark.parametrize("bad", ["", "r2b0w1d0", "stem-r2", "stem16-r2b0w1d2", "stem16-x"])
def test_bad_genome_strings(bad):
    with pytest.raises(UserError):
        Genome.parse(bad)


def test_cells_follow_width_rule():
    g = Genome.parse("stem8-r2b0w1d0-r1b1w1.5d1")
    cells = g.cells(base_width=8)
    # stage 2 downsamples once: 8 * 1.5 * 2 = 24 channels; its first cell is a reduction cell
    assert cells == [(8, False, 0), (8, False, 0), (24, True, 1)]


def spec(genome="stem8-r2b0w1d0-r1b1w1.5d1", **kw):
    base = dict(genome=Genome.parse(genome), blocks=BLOCKS, base_width=8, nodes=2, in_chans=1, num_classes=10,
                image_size=(8, 8))
    base.update(kw)
    return ArchSpec(**base)


def test_arch_id_is_stable_and_sensitive():
    a = spec()
    assert a.arch_id == spec().arch_id == ArchSpec.from_json(a.to_json()).arch_id
    assert len(a.arch_id) == 12
    assert spec(genome="stem8-r2b0w1d0-r2b1w1.5d1").arch_id != a.arch_id
    assert spec(base_width=16).arch_id != a.arch_id
    assert spec(num_classes=3).arch_id != a.arch_id
    # a block the genome does not use does not change the id
    other = (BLOCKS[0], BlockGenotype(CELL, CELL))
    assert spec(genome="stem8-r2b0w1d0", blocks=other).arch_id == spec(genome="stem8-r2b0w1d0").arch_id


def test_arch_json_with_edited_id_is_refused():
    data = spec().to_json()
    data["arch_id"] = "0" * 12
    with pytest.raises(UserError, match="edited"):
        ArchSpec.from_json(data)


def test_genome_must_index_into_library():
    with pytest.raises(UserError, match="library"):
        spec(genome="stem8-r1b5w1d0")
