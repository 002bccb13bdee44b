import pytest
import torch

from hybridnas.space.costs import measured_cost
from hybridnas.space.ops import DARTS_OPS, OPS, build_op, op_cost


@pytest.mark.parametrize("name", OPS.names())
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(8, 8), (7, 5), (2, 2), (1, 1)])
def test_every_op_runs_with_consistent_shape(name, stride, size):
    op = build_op(name, 6, stride).eval()
    x = torch.randn(2, 6, *size)
    y = op(x)
    expect = tuple(-(-s // stride) for s in size)  # ceil
    assert y.shape == (2, 6, *expect)


@pytest.mark.parametrize("name", OPS.names())
@pytest.mark.parametrize("stride", [1, 2])
def test_op_cost_matches_flop_counter_and_numel(name, stride):
    op = build_op(name, 8, stride)
    params, macs = op_cost(name, 8, stride, 7, 9)
    m = measured_cost(op, (8, 7, 9))
    assert (params, macs) == (m.params, m.macs)


def test_darts_ops_are_registered():
    assert set(DARTS_OPS) <= set(OPS.names())
    assert not OPS.get("skip_connect").parametric and OPS.get("sep_conv_3x3").parametric
