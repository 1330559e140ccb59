"""Graph digests: equal exactly for graphs that compute the same."""

import pytensor
import pytensor.tensor as pt
import pytest

from pmfisher._core.graph_digest import graph_digest, shared_ancestors


def digest_of(build):
    x = pt.vector("x", shape=(3,))
    return graph_digest([x], [build(x)], ())


def test_digest_is_equal_for_graphs_built_twice():
    assert digest_of(lambda x: pt.exp(x).sum() * 2.0) == digest_of(lambda x: pt.exp(x).sum() * 2.0)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(lambda x: pt.log(x).sum() * 2.0, id="another operation"),
        pytest.param(lambda x: pt.exp(x).sum() * 3.0, id="another constant"),
        pytest.param(lambda x: pt.exp(x).prod() * 2.0, id="another reduction"),
        pytest.param(lambda x: pt.exp(x[::-1]).sum() * 2.0, id="another index"),
        pytest.param(lambda x: 2.0 * pt.exp(x).sum(), id="operands swapped"),
    ],
)
def test_digest_tells_different_graphs_apart(other):
    assert digest_of(lambda x: pt.exp(x).sum() * 2.0) != digest_of(other)


def test_digest_tells_input_types_and_roles_apart():
    x, y = pt.vector("x", shape=(3,)), pt.vector("y", shape=(4,))
    z = pt.vector("z", shape=(3,))
    base = graph_digest([x, z], [x + z], ())
    assert base != graph_digest([z, x], [x + z], ())  # the inputs' order
    assert base != graph_digest([x, y], [x + y[:3]], ())


def test_shared_variables_are_found_in_a_fixed_order():
    a, b = pytensor.shared(1.0, name="a"), pytensor.shared(2.0, name="b")
    x = pt.scalar("x")
    assert shared_ancestors([(b * x + a) * a]) == (b, a)
