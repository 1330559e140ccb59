"""The finite-difference reference itself, on functions with known derivatives."""

import numpy as np

from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian


def test_hessian_of_a_quartic_is_exact_to_roundoff():
    # f = x0^2 x1^2 + x0^4: Richardson removes the h^2 error term exactly for quartics.
    def gradient(x):
        return np.array([2 * x[0] * x[1] ** 2 + 4 * x[0] ** 3, 2 * x[0] ** 2 * x[1]])

    x = np.array([1.5, -0.7])
    expected = [[2 * x[1] ** 2 + 12 * x[0] ** 2, 4 * x[0] * x[1]], [4 * x[0] * x[1], 2 * x[0] ** 2]]
    np.testing.assert_allclose(finite_difference_hessian(gradient, x), expected, rtol=1e-9)


def test_jacobian_of_exp_is_accurate_to_fourth_order():
    x = np.array([0.4, 2.0])
    estimate = finite_difference_jacobian(np.exp, x)
    np.testing.assert_allclose(estimate, np.diag(np.exp(x)), rtol=1e-11, atol=1e-12)
