"""Static shapes read off the types: the same answer as PyTensor's inference, without it
where the types give it, and PyTensor untouched outside the block."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytensor.tensor.basic as tensor_basic
import pytest
from pytensor.tensor.linalg import solve_triangular
from pytensor.tensor.shape import Shape_i

from pmfisher._core.compiled import static_shapes
from pmfisher._core.compiled.static_shapes import static_shapes_from_types

X = pt.tensor("x", shape=(4, None, 3))
Y = pt.exp(X) * 2.0  # an intermediate: its shape is Shape(Y), not Shape(X)


@pytest.fixture
def pytensors_calls(monkeypatch):
    """The shapes for which PyTensor's own inference was asked."""
    calls = []
    own = static_shapes._PYTENSORS_OWN

    def spy(shape):
        calls.append(shape)
        return own(shape)

    monkeypatch.setattr(static_shapes, "_PYTENSORS_OWN", spy)
    return calls


@pytest.mark.parametrize(
    ("entries", "lengths"),
    [
        ([2, 5], (2, 5)),
        ([Y.shape[0]], (4,)),
        ([Y.shape[-1]], (3,)),
        ([Y.shape[0], 7, Y.shape[2]], (4, 7, 3)),
        ([Y.shape[:2][0]], (4,)),
        ([Y.shape[1:][-1]], (3,)),
        ([Shape_i(2)(Y)], (3,)),
    ],
)
def test_lengths_the_types_give_are_read_off_them(entries, lengths, pytensors_calls):
    with static_shapes_from_types():
        variables, static = tensor_basic.infer_static_shape(entries)
    assert static == lengths
    assert static == static_shapes._PYTENSORS_OWN(entries)[1]
    assert len(pytensors_calls) == 1  # the line above, not the block
    assert all(variable.type.ndim == 0 for variable in variables)


@pytest.mark.parametrize(
    ("entries", "lengths"),
    [
        ([Y.shape[1]], (None,)),  # the type does not know axis 1
        ([Y.shape[0], Y.shape[1]], (4, None)),
        ([Y.shape[0] + 1], (5,)),  # arithmetic: PyTensor's rewrites fold it
        ([pt.iscalar("n")], (None,)),
    ],
)
def test_other_entries_are_left_to_pytensor(entries, lengths, pytensors_calls):
    with static_shapes_from_types():
        _, static = tensor_basic.infer_static_shape(entries)
    assert static == lengths
    assert len(pytensors_calls) == 1


def test_a_non_integer_entry_gets_pytensors_own_error():
    with static_shapes_from_types(), pytest.raises(TypeError, match="Shapes must be scalar"):
        tensor_basic.infer_static_shape([pt.scalar("length")])


def test_pytensor_is_untouched_outside_the_block_even_after_an_error():
    own = tensor_basic.infer_static_shape
    with static_shapes_from_types():
        with static_shapes_from_types():
            assert tensor_basic.infer_static_shape is not own
        assert tensor_basic.infer_static_shape is not own  # the outer block still holds
    assert tensor_basic.infer_static_shape is own
    with pytest.raises(RuntimeError, match="inside"), static_shapes_from_types():
        raise RuntimeError("inside")
    assert tensor_basic.infer_static_shape is own


def test_an_alloc_gets_the_same_type_inside_and_outside():
    outside = pt.alloc(0.0, Y.shape[0], Y.shape[1], Y.shape[2])
    with static_shapes_from_types():
        inside = pt.alloc(0.0, Y.shape[0], Y.shape[1], Y.shape[2])
    assert inside.type == outside.type
    assert inside.type.shape == (4, None, 3)


def test_the_gradient_of_a_batched_solve_asks_pytensor_for_no_static_shape(
    pytensors_calls, monkeypatch
):
    """pm.MvNormal's log-density solves a batch of triangular systems; its gradient
    vectorizes shapes into Allocs of ``x.shape[i]`` whose lengths the types know."""
    asked = []
    replacement = static_shapes._infer_static_shape
    monkeypatch.setattr(
        static_shapes,
        "_infer_static_shape",
        lambda shape: asked.append(shape) or replacement(shape),
    )
    chol = pt.matrix("chol", shape=(2, 2))
    values = pt.matrix("values", shape=(18, 2))
    solved = solve_triangular(chol, values, lower=True, b_ndim=1)  # a Blockwise over 18 rows
    logp = -0.5 * (solved**2).sum()
    with static_shapes_from_types():
        gradient = pytensor.grad(logp, chol)
    assert len(asked) > 0
    assert pytensors_calls == []
    expected = pytensor.grad(logp, chol)
    both = pytensor.function([chol, values], [gradient, expected], mode="FAST_COMPILE")
    chol_value = np.array([[1.3, 0.0], [0.4, 0.8]])
    computed, reference = both(chol_value, np.random.default_rng(1).standard_normal((18, 2)))
    np.testing.assert_allclose(computed, reference, rtol=1e-14)
