"""The conditional mode as a symbolic node: the Laplace marginal's value and gradient graphs
against the marginal computed densely (value) and its finite differences (gradient, where the
third derivatives of the non-Gaussian conditional matter); the node is never computed."""

import numpy as np
import pytensor
import pytest

from pmfisher.fitting.latent.implicit_mode import ConditionalModeOp, marginal_graphs
from pmfisher.testing import finite_difference_jacobian
from tests.fitting.latent.coupled_poisson import PHI, DenseReference, coupled_poisson


@pytest.fixture(scope="module")
def reference():
    return DenseReference(coupled_poisson())


@pytest.fixture(scope="module")
def marginal_fn(reference):
    u_hat = reference.u_type
    value, gradient = marginal_graphs(reference.split, u_hat)
    return pytensor.function([u_hat, reference.split.phi], [value, gradient])


@pytest.mark.parametrize("phi", [PHI, np.array([-0.6, np.log(1.9)])])
def test_value_and_gradient_are_the_marginals(reference, marginal_fn, phi):
    value, gradient = marginal_fn(reference.mode(phi), phi)
    assert float(value) == pytest.approx(reference.marginal(phi), rel=1e-12)
    fd = finite_difference_jacobian(lambda p: np.array([reference.marginal(p)]), phi)[0]
    np.testing.assert_allclose(gradient, fd, rtol=1e-7, atol=1e-8)
    # The log-determinant term matters: ∇L is not ∇_φ f at û (the envelope theorem's part).
    u_hat = reference.mode(phi)
    envelope = finite_difference_jacobian(lambda p: np.array([reference.f(u_hat, p)[0]]), phi)[0]
    assert np.abs(gradient - envelope).max() > 1e-2


def test_the_implicit_function_derivative_of_the_mode(reference):
    """The node's pullback, Mᵀ H⁻¹ ū, is ū · ∂û/∂φ: against finite differences of û(φ)."""
    u_hat, precision, mixed = reference.pieces(PHI)
    sensitivity = finite_difference_jacobian(reference.mode, PHI)
    np.testing.assert_allclose(np.linalg.solve(precision, mixed), sensitivity, rtol=1e-7, atol=1e-9)
    split = reference.split
    hessian_uu = pytensor.gradient.hessian(split.logp, split.u)
    mixed_graph = pytensor.gradient.jacobian(pytensor.grad(split.logp, split.u), split.phi)
    node = ConditionalModeOp(split.u, split.phi, hessian_uu, mixed_graph)
    output = node(split.phi)
    cotangent = np.array([0.5, -1.0, 2.0, 0.0, 1.5, -0.3])
    pulled = pytensor.grad((output * cotangent).sum(), split.phi)
    pulled = pytensor.graph.replace.graph_replace([pulled], {output: reference.u_type})[0]
    value = pytensor.function([reference.u_type, split.phi], pulled)(u_hat, PHI)
    np.testing.assert_allclose(value, cotangent @ sensitivity, rtol=1e-7, atol=1e-9)


def test_the_node_is_never_computed(reference):
    split = reference.split
    node = ConditionalModeOp(split.u, split.phi, None, None)
    function = pytensor.function([split.phi], node(split.phi), mode="FAST_COMPILE")
    with pytest.raises(NotImplementedError, match="replaced before compiling"):
        function(PHI)
