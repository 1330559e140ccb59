"""approximate_design: the multiplicative algorithm's fixed point, the D-optimal quadratic
design and its sensitivity function in closed form, and the equivalence-theorem bound."""

import numpy as np
import pytest

from pmfisher.design.approximate import (
    Certificate,
    _certify,
    _merge,
    _sensitivity,
    _spacing,
    approximate_design,
)
from pmfisher.design.evaluation import CriterionSpec
from tests.design.test_exact import unit_variance_polynomial

D = CriterionSpec("D")
GRID = np.linspace(-1.0, 1.0, 21)


@pytest.fixture(scope="module")
def quadratic():
    return unit_variance_polynomial(2)


def variance_function(x, support, weights):
    """:math:`d(x, \\xi) = f(x)^\\top M(\\xi)^{-1} f(x)`, :math:`f = (1, x, x^2)`."""
    rows = np.column_stack([np.ones_like(support), support, support**2])
    inverse = np.linalg.inv(rows.T @ (weights[:, None] * rows))
    at = np.column_stack([np.ones_like(x), x, x**2])
    return np.einsum("ri,ij,rj->r", at, inverse, at)


def test_a_third_on_minus_one_zero_one_is_the_multiplicative_fixed_point(quadratic):
    """At the optimum every support point's sensitivity equals p = 3, so
    w ← w (s/p) leaves the weights where they are."""
    design, thetas = quadratic
    support = [np.array([-1.0, 0.0, 1.0])]
    sensitivity = _sensitivity(design, D, thetas, support, np.full(3, 1 / 3))
    np.testing.assert_allclose(sensitivity, 3.0, rtol=1e-13)


def test_d_optimal_quadratic_design_and_its_sensitivity_function(quadratic):
    design, thetas = quadratic
    certificate = approximate_design(design, D, thetas, [GRID], None)
    np.testing.assert_allclose(certificate.support[0], [-1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(certificate.weights, 1 / 3, atol=1e-7)
    # M(ξ*) = [[1, 0, 2/3], [0, 2/3, 0], [2/3, 0, 2/3]], det 4/27
    assert certificate.value == pytest.approx(np.log(4 / 27), rel=1e-10)
    # d(x, ξ*) = f(x)ᵀ M(ξ*)⁻¹ f(x) written out: 3 − 9x²/2 + 9x⁴/2
    np.testing.assert_allclose(
        certificate.sensitivity, 3 - 4.5 * GRID**2 + 4.5 * GRID**4, rtol=1e-6
    )
    assert certificate.bound == pytest.approx(3.0, rel=1e-12)
    assert certificate.sensitivity_max == pytest.approx(3.0, rel=1e-6)
    assert certificate.efficiency_bound == pytest.approx(1.0, abs=1e-6)


def test_the_certificate_of_a_uniform_design_bounds_its_efficiency(quadratic):
    design, thetas = quadratic
    support = np.linspace(-1.0, 1.0, 5)
    weights = np.full(5, 0.2)
    certificate = _certify(design, D, thetas, [support], weights, [GRID])
    expected = variance_function(GRID, support, weights)
    np.testing.assert_allclose(certificate.sensitivity, expected, rtol=1e-12)
    assert certificate.bound == pytest.approx(3.0, rel=1e-12)
    assert certificate.efficiency_bound == pytest.approx(3.0 / expected.max(), rel=1e-12)
    # the true D-efficiency, (det M(ξ)/det M(ξ*))^(1/3), is above the bound
    rows = np.column_stack([np.ones_like(support), support, support**2])
    efficiency = (np.linalg.det(rows.T @ (weights[:, None] * rows)) / (4 / 27)) ** (1 / 3)
    assert certificate.efficiency_bound < efficiency < 1


def test_efficiency_bound_is_bound_over_the_largest_sensitivity():
    certificate = Certificate(
        support=[np.array([0.0])],
        weights=np.array([1.0]),
        value=0.0,
        sensitivity=np.array([1.0, 4.0]),
        sensitivity_support=np.array([2.0]),
        bound=2.0,
    )
    assert certificate.sensitivity_max == 4.0
    assert certificate.efficiency_bound == 0.5


def test_neighbouring_support_points_merge_at_their_weighted_mean():
    spacing = _spacing([GRID], [(-1.0, 1.0)])
    np.testing.assert_allclose(spacing, [0.1])
    support, weights = _merge(
        [np.array([0.9, 1.0, -1.0])], np.array([0.2, 0.3, 0.5]), [(-1.0, 1.0)], spacing=spacing
    )
    np.testing.assert_allclose(support[0], [-1.0, 0.96])
    np.testing.assert_allclose(weights, [0.5, 0.5])
