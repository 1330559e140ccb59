"""A diagonal precision and its shift; the diagonal route's derivatives against the general
sparse route are in ``tests/fitting/test_laplace_marginal.py`` (on its models)."""

import numpy as np
import pytest

from pmfisher._core.linalg.definiteness import PositiveDefinite
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent, DiagonalPositiveDefinite

DIAGONAL = np.array([4.0, 0.25, 2.5])


def test_a_diagonal_precision_is_the_dense_one_with_that_diagonal():
    diagonal, dense = DiagonalPositiveDefinite(DIAGONAL), np.diag(DIAGONAL)
    reference = PositiveDefinite(dense, np.linalg.cholesky(dense))
    assert diagonal.log_determinant == pytest.approx(reference.log_determinant, abs=1e-14)
    columns = np.arange(6.0).reshape(3, 2) - 2.0
    np.testing.assert_allclose(diagonal.solve(columns), reference.solve(columns), rtol=1e-14)
    np.testing.assert_allclose(diagonal.solve(columns[:, 0]), reference.solve(columns[:, 0]))
    standard = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(diagonal.deviations(standard), reference.deviations(standard))


def test_a_shift_makes_an_indefinite_diagonal_positive():
    """The smallest power of ten times the scale (here 4) that makes every entry positive;
    a zero or a NaN entry has no factor."""
    shifted = DiagonalLatent(None).shifted_factor(np.array([4.0, -0.5, 2.0]))
    np.testing.assert_allclose(shifted.matrix, np.array([4.0, -0.5, 2.0]) + 4.0)
    assert DiagonalLatent(None).factor(np.array([1.0, 0.0])) is None
    assert DiagonalLatent(None).factor(np.array([1.0, np.nan])) is None
