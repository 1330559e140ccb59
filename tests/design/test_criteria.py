"""criterion_graph: each criterion and its derivative with respect to M, against closed forms
and NumPy, on information matrices written by hand."""

import numpy as np
import pytensor.tensor as pt
import pytest

from pmfisher._core.compiled.compilation import compile_function
from pmfisher.design.criteria import MAXIMIZED, criterion_graph


def straight_line_information(x, sigma=1.0):
    """:math:`X^\\top X/\\sigma^2` of :math:`y = a + b x + \\varepsilon` at the runs ``x``."""
    design = np.column_stack([np.ones_like(x), x])
    return design.T @ design / sigma**2


# Runs not symmetric about 0, so M is not diagonal.
UNEVEN = straight_line_information(np.array([-1.0, 0.5, 1.0, 1.0]))
THREE = np.array([[4.0, 1.5, 0.3], [1.5, 3.25, -0.7], [0.3, -0.7, 2.0]])


def criterion_and_gradient(criterion, size, *, nuisance=None, contrast=False):
    matrix = pt.matrix("M", dtype="float64", shape=(size, size))
    inputs = [matrix]
    c = None
    if contrast:
        c = pt.vector("c", dtype="float64", shape=(size,))
        inputs.append(c)
    value = criterion_graph(matrix, criterion, nuisance=nuisance, contrast=c)
    function = compile_function(inputs, [value, pt.grad(value, matrix)])

    def value_and_gradient(*arguments):
        # M is symmetric: the log det reads only the Cholesky factor's triangle, so the
        # gradient that means something is the one along symmetric directions.
        value, gradient = function(*arguments)
        return value, (gradient + gradient.T) / 2

    return value_and_gradient


@pytest.mark.parametrize("n", [2, 6, 10])
def test_d_criterion_of_a_straight_line_on_plus_minus_one_is_two_log_n(n):
    matrix = straight_line_information(np.repeat([-1.0, 1.0], n // 2))
    value, gradient = criterion_and_gradient("D", 2)(matrix)
    assert value == pytest.approx(2 * np.log(n), rel=1e-14)
    np.testing.assert_allclose(gradient, np.eye(2) / n, rtol=1e-14)  # ∂ log det M/∂M = M⁻¹


def test_d_criterion_is_log_det_with_the_inverse_as_gradient():
    for matrix in (UNEVEN, THREE):
        value, gradient = criterion_and_gradient("D", len(matrix))(matrix)
        assert value == pytest.approx(np.linalg.slogdet(matrix)[1], rel=1e-14)
        np.testing.assert_allclose(gradient, np.linalg.inv(matrix), rtol=1e-12)


def test_a_criterion_is_the_trace_of_the_inverse():
    n = 8
    value, _ = criterion_and_gradient("A", 2)(
        straight_line_information(np.repeat([-1.0, 1.0], n // 2))
    )
    assert value == pytest.approx(2 / n, rel=1e-14)
    inverse = np.linalg.inv(THREE)
    value, gradient = criterion_and_gradient("A", 3)(THREE)
    assert value == pytest.approx(np.trace(inverse), rel=1e-14)
    np.testing.assert_allclose(gradient, -inverse @ inverse, rtol=1e-12)  # ∂ tr M⁻¹/∂M


def test_e_criterion_is_the_smallest_eigenvalue():
    value, gradient = criterion_and_gradient("E", 3)(THREE)
    eigenvalues, vectors = np.linalg.eigh(THREE)
    assert value == pytest.approx(eigenvalues[0], rel=1e-13)
    smallest = vectors[:, 0]
    np.testing.assert_allclose(gradient, np.outer(smallest, smallest), atol=1e-12)


def test_ds_criterion_is_minus_log_det_of_the_interest_block_of_the_inverse():
    nuisance = np.array([0])  # the intercept; interest in the others
    value, gradient = criterion_and_gradient("Ds", 3, nuisance=nuisance)(THREE)
    inverse = np.linalg.inv(THREE)
    assert value == pytest.approx(-np.linalg.slogdet(inverse[1:, 1:])[1], rel=1e-13)
    expected = inverse.copy()
    expected[0, 0] -= 1 / THREE[0, 0]  # ∂/∂M of − log M_nn
    np.testing.assert_allclose(gradient, expected, atol=1e-13)


def test_ds_without_nuisance_is_d():
    ds, _ = criterion_and_gradient("Ds", 3, nuisance=np.array([], dtype=int))(THREE)
    d, _ = criterion_and_gradient("D", 3)(THREE)
    assert ds == d


def test_c_criterion_is_the_variance_of_the_linear_combination():
    c = np.array([1.0, 0.5])  # the mean at x = 0.5
    value, gradient = criterion_and_gradient("c", 2, contrast=True)(UNEVEN, c)
    inverse = np.linalg.inv(UNEVEN)
    assert value == pytest.approx(c @ inverse @ c, rel=1e-14)
    np.testing.assert_allclose(gradient, -np.outer(inverse @ c, inverse @ c), rtol=1e-12)


def test_a_singular_matrix_gives_nan_for_log_det():
    singular = straight_line_information(np.zeros(4))  # b is not determined
    value, _ = criterion_and_gradient("D", 2)(singular)
    assert np.isnan(value)


def test_which_criteria_are_maximized():
    assert {"D", "E", "Ds"} == MAXIMIZED
