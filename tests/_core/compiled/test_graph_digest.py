"""Graph digests: equal exactly for graphs that compute the same."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from pmfisher._core.compiled.graph_digest import (
    DATA_SIZE,
    data_constants,
    graph_digest,
    shared_ancestors,
)


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


def test_digest_tells_apart_inputs_the_graph_does_not_read():
    """A recipe may read an input its source graph does not (the directions of Hessian
    products, one row per colour of a data-dependent sparsity pattern): its type is part of
    the key, or a function of three colours is handed five."""
    x = pt.vector("x", shape=(7,))
    three, five = pt.matrix("d", shape=(3, 7)), pt.matrix("d", shape=(5, 7))
    logp = (x**2).sum()
    assert graph_digest([x, three], [logp], ()) != graph_digest([x, five], [logp], ())


def test_shared_variables_are_found_in_a_fixed_order():
    a, b = pytensor.shared(1.0, name="a"), pytensor.shared(2.0, name="b")
    x = pt.scalar("x")
    assert shared_ancestors([(b * x + a) * a]) == (b, a)


def _with_data(values):
    x = pt.scalar("x")
    output = (pt.constant(np.asarray(values)) * x).sum() + pt.constant(np.arange(3.0)).sum()
    return x, output


def test_data_arrays_are_entered_by_position_and_type_and_small_constants_by_value():
    """A constant of DATA_SIZE entries or more is data (a compiled function's input): two
    graphs differing only in its values share a digest, in another shape they do not; the
    3-entry constant is not data, so its value counts."""
    digests = []
    for values in (np.linspace(0, 1, DATA_SIZE), np.linspace(2, 3, DATA_SIZE), np.ones(17)):
        x, output = _with_data(values)
        data = data_constants([output])
        assert [array.data.size for array in data] == [values.size]
        digests.append(graph_digest([x], [output], (), data))
    assert digests[0] == digests[1] != digests[2]
    x, output = _with_data(np.linspace(0, 1, DATA_SIZE))
    assert graph_digest([x], [output], ()) != digests[0]  # the array as a constant: by value
    x = pt.scalar("x")
    small = [(pt.constant(np.arange(c, c + 3.0)) * x).sum() for c in (0.0, 1.0)]
    assert data_constants(small[:1]) == ()
    assert graph_digest([x], small[:1], ()) != graph_digest([x], small[1:], ())
