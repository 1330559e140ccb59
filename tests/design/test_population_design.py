"""population_design: the optimal shares over candidates' information matrices, checked on
matrices whose optima are known in closed form (polynomial regression), and its refusal."""

import numpy as np
import pytest

from pmfisher.design.evaluation import CriterionSpec
from pmfisher.design.population_design import population_design
from pmfisher.errors import ArgumentError

CANDIDATES = np.linspace(-1.0, 1.0, 9)


def per_candidate_information(degree):
    """:math:`f(x) f(x)^\\top`, :math:`f = (1, x, \\dots, x^{degree})`, one matrix per
    candidate: the information of a subject sampled once at ``x``."""
    rows = np.column_stack([CANDIDATES**j for j in range(degree + 1)])
    return rows[:, :, None] * rows[:, None, :]


def labels(degree):
    return [f"beta[{j}]" for j in range(degree + 1)]


def test_d_optimal_shares_of_a_straight_line_are_a_half_on_each_end():
    matrices = per_candidate_information(1)
    certificate = population_design(CriterionSpec("D"), matrices, labels(1), [CANDIDATES[:, None]])
    np.testing.assert_allclose(certificate.support[0][:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(certificate.weights, [0.5, 0.5], atol=1e-6)
    # M* = I, so the sensitivity is d(x) = 1 + x² and log det M* = 0
    np.testing.assert_allclose(certificate.sensitivity, 1 + CANDIDATES**2, rtol=1e-6)
    # and, exactly, tr(M(w)⁻¹ M_c) at the weights it returns
    kept = np.isin(CANDIDATES, certificate.support[0][:, 0])
    information = np.tensordot(certificate.weights, matrices[kept], axes=1)
    exact = np.einsum("ij,cji->c", np.linalg.inv(information), matrices)
    np.testing.assert_allclose(certificate.sensitivity, exact, rtol=1e-12)
    assert certificate.value == pytest.approx(0.0, abs=1e-9)
    assert certificate.bound == pytest.approx(2.0, rel=1e-9)
    assert certificate.efficiency_bound == pytest.approx(1.0, abs=1e-6)


def test_a_optimal_shares_of_a_quadratic_are_a_quarter_a_half_a_quarter():
    matrices = per_candidate_information(2)
    certificate = population_design(CriterionSpec("A"), matrices, labels(2), [CANDIDATES])
    np.testing.assert_allclose(certificate.support[0], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(certificate.weights, [0.25, 0.5, 0.25], atol=1e-6)
    # tr M⁻¹ at the optimum: M = [[1, 0, 1/2], [0, 1/2, 0], [1/2, 0, 1/2]], M⁻¹ trace 8
    assert certificate.value == pytest.approx(8.0, rel=1e-9)
    assert certificate.sensitivity_max == pytest.approx(certificate.bound, rel=1e-6)


def test_e_is_refused_for_a_population_design():
    with pytest.raises(ArgumentError, match="criterion='E' has no sensitivity function"):
        population_design(CriterionSpec("E"), per_candidate_information(1), labels(1), [CANDIDATES])
