import random

import pytest

from hybridnas.errors import UserError
from hybridnas.space.genotype import BlockGenotype, CellGenotype, edge_index, node_edges
from hybridnas.space.ops import DARTS_OPS


def random_cell(rng, nodes, ops=DARTS_OPS[1:], max_inputs=3):
    return CellGenotype(
        tuple(
            tuple((rng.choice(ops), rng.randrange(i + 2)) for _ in range(rng.randint(1, max_inputs)))
            for i in range(nodes)
        )
    )


def test_cell_string_round_trips():
    rng = random.Random(0)
    for _ in range(200):
        cell = random_cell(rng, rng.randint(1, 5))
        assert CellGenotype.parse(cell.to_string()) == cell
        assert CellGenotype.from_json(cell.to_json()) == cell


def test_block_string_round_trips_and_digest_is_stable():
    rng = random.Random(1)
    b = BlockGenotype(random_cell(rng, 4), random_cell(rng, 4))
    assert BlockGenotype.parse(b.to_string()) == b
    assert b.digest() == BlockGenotype.parse(str(b)).digest()


def test_documented_example_parses():
    text = "sep_conv_3x3@0+skip_connect@1|sep_conv_3x3@0+dil_conv_3x3@2"
    cell = CellGenotype.parse(text)
    assert cell.nodes[1] == (("sep_conv_3x3", 0), ("dil_conv_3x3", 2))
    assert str(cell) == text


@pytest.mark.parametrize("bad", ["", "sep_conv_3x3", "sep_conv_3x3@x", "skip_connect@2", "a@0|b@3"])
def test_bad_cell_strings_raise_user_error(bad):
    with pytest.raises(UserError):
        CellGenotype.parse(bad)


def test_block_parse_needs_both_cells():
    with pytest.raises(UserError):
        BlockGenotype.parse("normal:skip_connect@0")


def test_edge_index_is_shared_layout():
    edges = edge_index(4)
    assert len(edges) == 14 and edges[0] == (2, 0) and edges[-1] == (5, 4)
    per_node = node_edges(4)
    assert [len(v) for v in per_node.values()] == [2, 3, 4, 5]
