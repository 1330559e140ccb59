"""Positive definiteness: the Cholesky-based precision and its inverse, log-determinant, solve
and draws; the report naming the parameters on a negative or flat eigenvector; regularization
that reflects and floors eigenvalues; non-finite entries named; the shifted Cholesky."""

import re

import numpy as np
import pytest
from scipy import sparse

from pmfisher._core.linalg.definiteness import (
    REGULARIZATION_FLOOR,
    cholesky_or_none,
    flat_directions,
    positive_definite,
    require_finite,
    shifted_cholesky,
)
from pmfisher.errors import ArgumentError, NotFiniteError, NotPositiveDefiniteError

LABELS = ["a", "b", "c"]
# Orthonormal eigenvectors with uneven loadings, and eigenvalues −2, 3, 5.
EIGENVECTORS = np.array([[0.6, -0.8, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
EIGENVALUES = np.array([-2.0, 3.0, 5.0])
SADDLE = EIGENVECTORS @ np.diag(EIGENVALUES) @ EIGENVECTORS.T
PRECISION = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.7], [0.5, -0.7, 2.0]])


def test_a_positive_definite_matrix_gives_its_inverse_determinant_solve_and_draws():
    result = positive_definite(PRECISION, LABELS, what="precision")
    assert result.regularization == ""
    np.testing.assert_array_equal(result.matrix, PRECISION)
    np.testing.assert_allclose(result.cholesky @ result.cholesky.T, PRECISION, rtol=1e-14)
    np.testing.assert_allclose(result.inverse(), np.linalg.inv(PRECISION), rtol=1e-13)
    assert result.log_determinant == pytest.approx(np.linalg.slogdet(PRECISION)[1], rel=1e-14)
    b = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(result.solve(b), np.linalg.solve(PRECISION, b), rtol=1e-13)
    # Rows L^{-T} z of the identity are the rows of L^{-1}: their Gram matrix is H^{-1}.
    rows = result.deviations(np.eye(3))
    np.testing.assert_allclose(rows.T @ rows, np.linalg.inv(PRECISION), rtol=1e-13)


def test_a_saddle_is_reported_with_its_eigenvalue_and_loadings():
    with pytest.raises(NotPositiveDefiniteError) as raised:
        positive_definite(SADDLE, LABELS, what="negative Hessian", advice="Do this.")
    error = raised.value
    np.testing.assert_allclose(error.eigenvalues, EIGENVALUES, rtol=1e-14)
    # The eigenvector of −2 is (0.6, 0.8, 0): b carries more, the sign makes it positive.
    assert list(error.loadings) == ["b", "a"]
    np.testing.assert_allclose(list(error.loadings.values()), [0.8, 0.6], rtol=1e-13)
    message = str(error)
    assert message.startswith(
        "the negative Hessian is not positive definite: eigenvalue -2 along b (+0.80), a (+0.60)."
    )
    assert message.endswith("Do this.")


def test_regularizing_reflects_a_saddle_and_floors_a_flat_direction():
    reflected = positive_definite(SADDLE, LABELS, what="H", action="regularize")
    expected = EIGENVECTORS @ np.diag(np.abs(EIGENVALUES)) @ EIGENVECTORS.T
    np.testing.assert_allclose(reflected.matrix, expected, rtol=1e-13, atol=1e-14)
    assert "eigenvalues [-2] were replaced by [2]" in reflected.regularization
    # ones((2, 2)) has eigenvalues 0 and 2: the 0 along (a − b)/√2 becomes 1e-6 · 2.
    flat = positive_definite(np.ones((2, 2)), ["a", "b"], what="H", action="regularize")
    floor = REGULARIZATION_FLOOR * 2.0
    np.testing.assert_allclose(np.linalg.eigvalsh(flat.matrix), [floor, 2.0], rtol=1e-9)
    np.testing.assert_allclose(
        flat.matrix - np.ones((2, 2)), floor / 2 * np.array([[1.0, -1.0], [-1.0, 1.0]]), atol=1e-15
    )
    assert "(|λ| floored at 1e-06 × λ_max = 2e-06)" in flat.regularization


def test_a_singular_matrix_is_not_positive_definite_at_the_rank_tolerance():
    # Eigenvalues 1 and 1e-17: below d ε λ_max, as numpy.linalg.matrix_rank counts.
    almost = np.diag([1.0, 1e-17])
    assert np.linalg.matrix_rank(almost) == 1
    with pytest.raises(NotPositiveDefiniteError) as raised:
        positive_definite(almost, ["a", "b"], what="H")
    assert list(raised.value.loadings) == ["b"]
    positive_definite(np.diag([1.0, 1e-14]), ["a", "b"], what="H")  # above it: accepted


def test_non_finite_entries_name_their_rows():
    matrix = PRECISION.copy()
    matrix[2, 1] = np.nan
    with pytest.raises(NotPositiveDefiniteError, match="non-finite entries in the rows of c"):
        positive_definite(matrix, LABELS, what="H")


def test_the_action_is_checked():
    with pytest.raises(ArgumentError, match="not_positive_definite='ignore' is not allowed"):
        positive_definite(PRECISION, LABELS, what="H", action="ignore")


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, np.inf, 2.0]),
        np.array([[1.0, 2.0, 3.0], [4.0, np.nan, 6.0]]),
        np.stack(
            [np.eye(3), np.where(np.eye(3) > 0, 1.0, [[0, 0, 0], [0, 0, 0], [0, -np.inf, 0]])]
        ),
        sparse.csr_array(np.array([[1.0, 0, 0], [0, 0, 0], [0, np.nan, 0]]).T),
    ],
    ids=["vector", "matrix", "stack", "sparse"],
)
def test_require_finite_names_the_parameters_of_the_bad_entries(values):
    with pytest.raises(NotFiniteError, match="the gradient is not finite in the entries of b:"):
        require_finite(values, LABELS, "the gradient")
    require_finite(np.ones(3), LABELS, "the gradient")


def test_flat_directions_reports_numerical_zeros_only():
    assert flat_directions(PRECISION, LABELS) == ""
    assert flat_directions(SADDLE, LABELS) == ""  # negative, not flat
    assert flat_directions(np.zeros((2, 2)), ["a", "b"]) == ""
    # The null eigenvector (−0.8, 0.6, 0) of a rank-two matrix: a carries more, its sign fixed
    # positive; the eigenvalue is zero to rounding.
    rank_two = EIGENVECTORS @ np.diag([3.0, 0.0, 5.0]) @ EIGENVECTORS.T
    report = flat_directions(rank_two, LABELS)
    assert re.fullmatch(r"eigenvalue \S+ along a \(\+0\.80\), b \(-0\.60\)", report), report
    assert abs(float(report.split()[1])) < 1e-15


def test_cholesky_or_none():
    np.testing.assert_allclose(
        cholesky_or_none(PRECISION), np.linalg.cholesky(PRECISION), rtol=1e-14
    )
    assert cholesky_or_none(SADDLE) is None
    assert cholesky_or_none(np.array([[1.0, np.nan], [np.nan, 1.0]])) is None


def test_shifted_cholesky_adds_the_smallest_power_of_ten_that_makes_it_positive_definite():
    # Smallest eigenvalue −2 and scale max |diag| = 5: τ = 10^k · 5 for k = −8, −7, …; the
    # first that lifts −2 above zero is k = 0 (0.5 does not), so the factor is of H + 5I.
    factor = shifted_cholesky(SADDLE)
    np.testing.assert_allclose(factor @ factor.T, SADDLE + 5.0 * np.eye(3), rtol=1e-13, atol=1e-14)
    # Positive definite already: the smallest shift, 1e-8 · max(|diag|, 1) = 4e-8, is taken.
    np.testing.assert_allclose(
        shifted_cholesky(PRECISION) @ shifted_cholesky(PRECISION).T,
        PRECISION + 1e-8 * 4.0 * np.eye(3),
        rtol=1e-13,
    )
