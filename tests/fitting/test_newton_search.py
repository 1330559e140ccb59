"""The mode searches: on a quadratic log-density one Newton step reaches the maximum by every
route (trust-exact, trust-krylov on Hessian-vector products or the sparse Hessian, BFGS with
its Newton polish); on the Rosenbrock function each reaches (1, 1); an overflowing Hessian is
a failed search where it last stood; ``converged`` is relative to the density's scale."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import optimize, sparse

from pmfisher.fitting import newton_search as search_module
from pmfisher.fitting.newton_search import GRADIENT_TOLERANCE, converged, newton_search

# A non-diagonal precision and a maximum away from the origin.
PRECISION = np.array([[3.0, 1.2, -0.4], [1.2, 2.0, 0.3], [-0.4, 0.3, 1.5]])
PEAK = np.array([0.7, -1.3, 2.1])


class Graph(SimpleNamespace):
    """A log-density as ``newton_search`` sees a model graph: value and gradient, Hessian,
    Hessian-vector products and the sparse Hessian (as the graph's companion)."""

    def __init__(self, size, logp, grad, hessian):
        counted = {"calls": 0}

        def logp_and_grad(x):
            counted["calls"] += 1
            return logp(x), grad(x)

        super().__init__(
            size=size,
            counted=counted,
            logp_and_grad_fn=logp_and_grad,
            hessian_fn=hessian,
            hessian_vector_fn=lambda x, vector: hessian(x) @ vector,
            companion=lambda build: lambda x, backend: sparse.csr_array(hessian(x)),
        )


def quadratic():
    return Graph(
        3,
        lambda x: -0.5 * (x - PEAK) @ PRECISION @ (x - PEAK),
        lambda x: -PRECISION @ (x - PEAK),
        lambda x: -PRECISION,
    )


def rosenbrock():
    """−Rosenbrock(x, y): maximum 0 at (1, 1), with SciPy's own derivatives."""
    return Graph(
        2,
        lambda x: -optimize.rosen(x),
        lambda x: -optimize.rosen_der(x),
        lambda x: -optimize.rosen_hess(x),
    )


ROUTES = [
    pytest.param("dense", False, None, id="trust-exact"),
    pytest.param("dense", False, 0, id="trust-krylov-products"),
    pytest.param("sparse", False, None, id="trust-krylov-sparse"),
    pytest.param("dense", True, None, id="bfgs-polished"),
]


def search(graph, x0, chosen, quasi_newton, limit, monkeypatch):
    if limit is not None:
        monkeypatch.setattr(search_module, "DENSE_HESSIAN_LIMIT", limit)
    return newton_search(graph, np.asarray(x0, dtype=float), chosen, quasi_newton=quasi_newton)


@pytest.mark.parametrize(("chosen", "quasi_newton", "limit"), ROUTES)
def test_a_quadratic_is_maximized_exactly(chosen, quasi_newton, limit, monkeypatch):
    graph = quadratic()
    # Within the trust region's first radius (1): the Newton step is taken whole.
    x0 = PEAK + np.array([0.3, -0.2, 0.4])
    result = search(graph, x0, chosen, quasi_newton, limit, monkeypatch)
    np.testing.assert_allclose(result.x, PEAK, rtol=0, atol=1e-10)
    assert converged(result)
    assert result.fun == pytest.approx(0.0, abs=1e-18)


def test_one_newton_step_from_anywhere_in_the_trust_region():
    graph = quadratic()
    result = newton_search(graph, PEAK + np.array([0.3, -0.2, 0.4]), "dense", quasi_newton=False)
    assert result.nit == 1
    # Evaluations: the start and the Newton point, and nothing more once the gradient is 0.
    np.testing.assert_allclose(result.jac, np.zeros(3), rtol=0, atol=1e-14)
    assert graph.counted["calls"] <= 3


@pytest.mark.parametrize(("chosen", "quasi_newton", "limit"), ROUTES)
def test_rosenbrock_is_maximized_at_one_one(chosen, quasi_newton, limit, monkeypatch):
    result = search(rosenbrock(), [-1.2, 1.0], chosen, quasi_newton, limit, monkeypatch)
    np.testing.assert_allclose(result.x, [1.0, 1.0], rtol=0, atol=1e-7)
    assert converged(result)


def test_an_overflowing_hessian_is_a_failed_search_at_the_last_point():
    graph = quadratic()
    graph.hessian_fn = lambda x: np.full((3, 3), np.inf)
    x0 = np.array([0.1, 0.2, 0.3])
    result = newton_search(graph, x0, "dense", quasi_newton=False)
    assert not result.success
    np.testing.assert_array_equal(result.x, x0)
    assert result.fun == pytest.approx(0.5 * (x0 - PEAK) @ PRECISION @ (x0 - PEAK), rel=1e-14)


@pytest.mark.parametrize(
    ("fun", "gradient_norm", "expected"),
    [
        (0.5, 0.99 * GRADIENT_TOLERANCE, True),  # |log p| < 1: absolute tolerance
        (0.5, 1.01 * GRADIENT_TOLERANCE, False),
        (-1e4, 0.99e4 * GRADIENT_TOLERANCE, True),  # relative to |log p|
        (-1e4, 1.01e4 * GRADIENT_TOLERANCE, False),
        (np.inf, 0.0, False),
        (np.nan, 0.0, False),
    ],
)
def test_converged_is_relative_to_the_scale_of_the_log_density(fun, gradient_norm, expected):
    jac = gradient_norm * np.array([0.6, -0.8])
    assert converged(optimize.OptimizeResult(fun=fun, jac=jac)) is expected
