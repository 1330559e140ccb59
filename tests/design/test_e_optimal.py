"""E-optimal approximate designs: the textbook optima, and the equivalence theorem's
certificate for E where the smallest eigenvalue is repeated (the straight line) and where it
is simple (the quadratic)."""

import numpy as np
import pytest

from pmfisher import design_criterion, optimal_design
from tests.design.test_optimal import polynomial


def test_straight_line_e_optimal_design_is_plus_minus_one_with_equal_weights():
    """M = I/σ² at ±1 with weights ½: λ_min = 1/σ² is repeated, so λ_min has no gradient;
    the certificate's E puts the sensitivity tr(I(x)E) at most 1/σ² on [−1, 1]."""
    sigma2 = 0.7**2
    result = optimal_design(
        model=polynomial(1),
        design={"x": np.linspace(-1, 1, 21)},
        point={"beta": np.array([0.3, 1.0])},
        criterion="E",
    )
    np.testing.assert_allclose(result.support["x"], [-1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [0.5, 0.5], atol=1e-9)
    assert result.criterion == pytest.approx(1 / sigma2, rel=1e-12)
    assert result.bound == pytest.approx(1 / sigma2, rel=1e-12)
    assert result.sensitivity_max == pytest.approx(1 / sigma2, rel=1e-9)
    assert result.efficiency_bound >= 1 - 1e-9
    # E is a convex combination of projections: between min and max of f(x)ᵀf(x)/σ²·{0, 1}.
    assert np.all(result.sensitivity.values <= (1 + result.sensitivity.x.values**2) / sigma2)


def test_quadratic_e_optimal_design_is_a_fifth_three_fifths_a_fifth():
    """Pukelsheim (1993, § 9.13) / Kiefer: on [−1, 1] the E-optimal design for
    (1, x, x²) puts 1/5, 3/5, 1/5 on −1, 0, 1 with λ_min = 1/5 (per σ²), eigenvector
    v ∝ (1, 0, −2), and sensitivity (vᵀf(x))² = (1 − 2x²)²/5 ≤ 1/5."""
    sigma2 = 0.7**2
    x = np.linspace(-1, 1, 21)
    result = optimal_design(
        model=polynomial(2),
        design={"x": x},
        point={"beta": np.array([0.1, 0.4, 0.7])},
        criterion="E",
    )
    np.testing.assert_allclose(result.support["x"], [-1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [0.2, 0.6, 0.2], atol=1e-6)
    assert result.criterion == pytest.approx(0.2 / sigma2, rel=1e-9)
    np.testing.assert_allclose(
        result.sensitivity.values, (1 - 2 * x**2) ** 2 / 5 / sigma2, atol=1e-6
    )
    assert result.sensitivity_max == pytest.approx(result.bound, rel=1e-6)
    assert result.efficiency_bound >= 1 - 1e-6


def test_e_efficiency_of_a_users_design_and_its_certified_lower_bound():
    """Runs at −1, 0, 1, 1 for the line: per run M = [[1, ¼], [¼, ¾]]/σ², λ_min =
    (7/4 − √(1/16 + 1/4))/2 /σ², against 1/σ² at the optimum."""
    model = polynomial(1)
    point = {"beta": np.array([0.3, 1.0])}
    runs = np.array([-1.0, 0.0, 1.0, 1.0])
    optimum = optimal_design(
        model=model, design={"x": np.linspace(-1, 1, 21)}, point=point, criterion="E"
    )
    user = design_criterion({"x": runs}, model=model, point=point, criterion="E")
    expected = (7 / 4 - np.sqrt(1 / 16 + 1 / 4)) / 2
    assert optimum.efficiency(user, runs=4) == pytest.approx(expected, rel=1e-9)


def test_quadratic_e_optimal_design_in_a_box_is_found_on_its_grid():
    """In the box [−1, 1] the candidates are a grid of 2001 points (step 0.001): the same
    design, certified over the whole grid."""
    result = optimal_design(
        model=polynomial(2),
        design={"x": (-1.0, 1.0)},
        point={"beta": np.array([0.1, 0.4, 0.7])},
        criterion="E",
    )
    np.testing.assert_allclose(result.support["x"], [-1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [0.2, 0.6, 0.2], atol=1e-6)
    assert result.sensitivity.sizes["candidate"] == 2001
    assert result.efficiency_bound >= 1 - 1e-6
