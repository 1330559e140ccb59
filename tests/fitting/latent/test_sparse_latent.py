"""The sparse route of the Laplace marginal on a tridiagonal, non-Gaussian conditional: H on its
pattern, the log-determinant, ∂û/∂φ, the gradient and the Hessian of L against a dense marginal
computed independently (its values and finite differences), and the shifted factor."""

import numpy as np
import pytest
from scipy import sparse

from pmfisher.fitting.latent.sparse_latent import SparseLatent, latent_hessian_is_diagonal
from pmfisher.testing import finite_difference_jacobian
from tests.fitting.latent.coupled_poisson import PHI, DenseReference, coupled_poisson


@pytest.fixture(scope="module")
def reference():
    return DenseReference(coupled_poisson())


@pytest.fixture(scope="module")
def route(reference):
    return SparseLatent(reference.split)


def test_the_latent_block_is_the_tridiagonal_precision(reference, route):
    assert not latent_hessian_is_diagonal(reference.split)
    u_hat, precision, _ = reference.pieces(PHI)
    logp, gradient, latent = route.curvature(u_hat, PHI)
    assert logp == pytest.approx(float(reference.f(u_hat, PHI)[0]), rel=1e-13)
    np.testing.assert_allclose(gradient, 0.0, atol=1e-10)  # û is the conditional mode
    assert isinstance(latent, sparse.csc_array)
    np.testing.assert_allclose(latent.toarray(), precision, rtol=1e-12, atol=1e-14)
    # Tridiagonal: each count couples z_i and z_{i+1}, nothing else.
    rows, cols = latent.nonzero()
    assert np.abs(rows - cols).max() == 1
    assert latent.nnz == 6 + 2 * 5
    factor = route.factor(latent)
    assert factor.log_determinant == pytest.approx(np.linalg.slogdet(precision)[1], rel=1e-12)


@pytest.mark.parametrize("phi", [PHI, np.array([-0.6, np.log(1.9)])])
def test_sensitivity_gradient_and_hessian_are_the_dense_marginals(reference, route, phi):
    def at(p):
        u_hat = reference.mode(p)
        return u_hat, route.factor(route.curvature(u_hat, p)[2])

    u_hat, factor = at(phi)
    _, precision, mixed = reference.pieces(phi)
    np.testing.assert_allclose(
        route.sensitivity(u_hat, phi, factor), np.linalg.solve(precision, mixed), rtol=1e-11
    )
    gradient = route.gradient(u_hat, phi, factor)
    fd = finite_difference_jacobian(lambda p: np.array([reference.marginal(p)]), phi)[0]
    np.testing.assert_allclose(gradient, fd, rtol=1e-7, atol=1e-8)
    hessian = route.hessian(u_hat, phi, factor)
    fd_hessian = finite_difference_jacobian(lambda p: route.gradient(*at(p)[:1], p, at(p)[1]), phi)
    np.testing.assert_allclose(hessian, 0.5 * (fd_hessian + fd_hessian.T), rtol=1e-6, atol=1e-7)
    assert abs(hessian[0, 1]) > 1e-3  # the off-diagonal entry is checked, not a zero


def test_a_matrix_that_is_not_positive_definite_has_no_factor_but_a_shifted_one(route):
    """CHOLMOD's simplicial LDLᵀ completes on an indefinite matrix; the factor must not."""
    chain = 2.0 * np.eye(6) + np.diag(np.ones(5), 1) + np.diag(np.ones(5), -1)
    chain[3, 3] = -1.0  # one negative pivot on the route's own tridiagonal pattern
    assert np.linalg.eigvalsh(chain)[0] < 0
    assert route.factor(sparse.csc_array(chain)) is None
    indefinite = sparse.csc_array(np.diag([2.0, 1.0, -0.5, 3.0, 1.0, 1.0]))
    assert route.factor(indefinite) is None
    assert route.factor(sparse.csc_array(np.diag([np.nan, 1.0, 1.0, 1.0, 1.0, 1.0]))) is None
    shifted = route.shifted_factor(indefinite)
    # τ = 10^k · max|diag| = 10^k · 3: the first above 0.5 is 3 (k = 0).
    expected = np.diag([5.0, 4.0, 2.5, 6.0, 4.0, 4.0])
    assert shifted.log_determinant == pytest.approx(np.linalg.slogdet(expected)[1], rel=1e-13)
