"""The first-order mean of the latent conditionals: δ = −½ H⁻¹ ∇_u log det H at û.

* On every route (dense, diagonal, general sparse) δ equals −½ H⁻¹ times the finite
  difference of log det H(u), with H formed by the dense route's own Hessian.
* One Poisson count with a normal log-rate: the exact conditional mean by 1-D quadrature is
  much closer to û + δ than to û, and on the side δ points to (below the mode).
* Draws: ``conditional_draws`` shifts every row by its δ (the lockstep and the one-by-one
  rows alike) and keeps log q the density of the shifted Gaussian at its draw.
"""

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats

from pmfisher.approximation import conditional_draws as draws_module
from pmfisher.fitting.conditional_mean import conditional_mean_shift
from pmfisher.fitting.laplace_marginal import LaplaceMarginal, laplace_marginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.latent.sparse_latent import SparseLatent
from pmfisher.testing import finite_difference_jacobian

RNG = np.random.default_rng(26)
GROUPS = 6
GROUP = np.repeat(np.arange(GROUPS), 3)
X = RNG.normal(size=GROUP.size)
COUNTS = RNG.poisson(np.exp(0.2 + 0.4 * X + RNG.normal(0, 0.7, GROUPS)[GROUP]))


def intercepts() -> pm.Model:
    """A Poisson GLMM with group intercepts: a diagonal latent Hessian."""
    with pm.Model(coords={"group": np.arange(GROUPS), "obs": np.arange(GROUP.size)}) as model:
        x = pm.Data("x", X, dims="obs")
        beta = pm.Normal("beta", 0, 2, shape=2)
        tau = pm.HalfNormal("tau", 1)
        u = pm.Normal("u", 0, tau, dims="group")
        rate = pm.Deterministic("rate", pm.math.exp(beta[0] + beta[1] * x + u[GROUP]), dims="obs")
        pm.Poisson("y", rate, observed=COUNTS, dims="obs")
    return model


def slopes() -> pm.Model:
    """Random intercepts and slopes of unequal scales: 2 × 2 blocks, the general sparse route."""
    with pm.Model(coords={"group": np.arange(GROUPS), "effect": ["intercept", "slope"]}) as model:
        x = pm.Data("x", X, shape=X.shape)
        beta = pm.Normal("beta", 0, 2)
        tau = pm.HalfNormal("tau", 1, dims="effect")
        u = pm.Normal("u", 0, tau, dims=("group", "effect"))
        eta = beta + u[GROUP, 0] + u[GROUP, 1] * x
        pm.Poisson("y", pm.math.exp(eta), observed=COUNTS)
    return model


def correlated() -> pm.Model:
    """Correlated effects (an MvNormal, non-diagonal covariance): the dense route."""
    covariance = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.5], [0.2, -0.5, 1.5]])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        z = pm.MvNormal("z", mu=mu * np.ones(3), cov=covariance)
        pm.Poisson("y", pm.math.exp(z[[0, 0, 1, 2, 2, 2]]), observed=[0, 1, 3, 0, 2, 1])
    return model


ROUTES = {
    "dense": (correlated, "z", "dense", type(None)),
    "diagonal": (intercepts, "u", "sparse", DiagonalLatent),
    "general sparse": (slopes, "u", "sparse", SparseLatent),
}


@pytest.fixture(scope="module", params=list(ROUTES))
def route(request):
    build, latent, structure, pieces = ROUTES[request.param]
    marginal = laplace_marginal(
        build(), latent, space="unconstrained", terms="posterior", structure=structure
    )
    assert isinstance(marginal.structured, pieces)
    assert not marginal.split.conditional_is_gaussian
    return marginal


def test_the_shift_is_minus_half_h_inverse_times_the_gradient_of_log_det_h(route):
    split = route.split
    dense = LaplaceMarginal(split, structure="dense")
    phi = 0.1 + 0.3 * np.random.default_rng(1).standard_normal(split.n_phi)
    inner = route.conditional_mode(phi)

    def precision(u):
        return -np.asarray(dense._inner_fn(u, phi)[2])

    def log_det(u):
        return np.linalg.slogdet(precision(u))[1]

    expected = -0.5 * np.linalg.solve(
        precision(inner.u), finite_difference_jacobian(log_det, inner.u)
    )
    shift = conditional_mean_shift(route, inner, phi)
    np.testing.assert_allclose(shift, expected, rtol=1e-7, atol=1e-10)
    if isinstance(route.structured, DiagonalLatent):
        # Each intercept's conditional (a Poisson log link) is skewed to the left: the mean
        # lies below the mode. (A slope's, or a correlated entry's, can move either way.)
        assert np.all(shift < 0)


# -- one count: the exact conditional mean by quadrature ------------------------------------------


@pytest.mark.parametrize("structure", ["dense", "sparse"])
@pytest.mark.parametrize("count", [0, 2, 7])
def test_one_count_the_corrected_mean_is_near_the_exact_one(count, structure):
    """u ~ N(m, s²), y ~ Poisson(e^u): f = yu − e^u − (u − m)²/2s², H = e^u + 1/s²,
    δ = −½ e^û / H². The exact E[u | y] by quadrature (m = 0.4, s = 1.5): û is off by 0.256,
    0.172, 0.070 for y = 0, 2, 7 (0.25 sd of the conditional, 0.25, 0.18), û + δ by 0.025,
    0.0015, 0.0009 — at least 8× closer — and a flipped sign would be farther off than û."""
    m, s = 0.4, 1.5
    with pm.Model() as model:
        mean = pm.Normal("m", 0, 1)
        u = pm.Normal("u", mean, s, shape=1)
        pm.Poisson("y", pm.math.exp(u), observed=[count])
    marginal = laplace_marginal(
        model, "u", space="unconstrained", terms="posterior", structure=structure
    )
    inner = marginal.conditional_mode(np.array([m]))
    [mode] = inner.u
    [shift] = conditional_mean_shift(marginal, inner, np.array([m]))
    curvature = np.exp(mode) + 1 / s**2
    assert shift == pytest.approx(-0.5 * np.exp(mode) / curvature**2, rel=1e-12)

    def density(u):
        return np.exp(count * u - np.exp(u) - (u - m) ** 2 / (2 * s**2) - count * mode)

    # The density is below e^-100 of its peak beyond these bounds.
    bounds = (mode - 25.0, mode + 6.0)
    mass = integrate.quad(density, *bounds, epsabs=0, epsrel=1e-12)[0]
    exact = integrate.quad(lambda u: u * density(u), *bounds, epsabs=0, epsrel=1e-12)[0] / mass
    assert exact < mode
    uncorrected, corrected, flipped = (abs(mode + d - exact) for d in (0, shift, -shift))
    assert corrected < uncorrected / 8
    assert flipped > 1.5 * uncorrected


# -- the draws -------------------------------------------------------------------------------------


def test_draws_are_shifted_by_each_rows_shift(route, monkeypatch):
    """Against the uncorrected draws with the same standard normals: every row moves by the δ
    of its own φ (the diagonal lockstep, and rows it leaves to the one-by-one solve), log q
    is unchanged (the shifted Gaussian's density at its own draw) and f is evaluated at the
    shifted draws."""
    split = route.split
    phi_mode = 0.1 + np.zeros(split.n_phi)
    u_mode = route.conditional_mode(phi_mode).u
    phis = phi_mode + 0.3 * np.random.default_rng(2).standard_normal((5, split.n_phi))
    if isinstance(route.structured, DiagonalLatent):
        lockstep = draws_module._DiagonalNewton.__call__

        def failing_rows(self, starts, rows):
            modes, curvatures, solved, at_modes = lockstep(self, starts, rows)
            solved[::2] = False
            return modes, curvatures, solved, at_modes

        monkeypatch.setattr(draws_module._DiagonalNewton, "__call__", failing_rows)
    results = {
        conditional: draws_module.conditional_draws(
            route, phis, phi_mode, u_mode, np.random.default_rng(4), conditional=conditional
        )
        for conditional in ("gaussian", "mean_corrected")
    }
    (plain, plain_log_q, _), (draws, log_q, log_p) = results.values()
    shifts = [conditional_mean_shift(route, route.conditional_mode(phi), phi) for phi in phis]
    np.testing.assert_allclose(draws - plain, shifts, rtol=1e-8, atol=1e-12)
    # The modes agree to rounding (each solve warm-starts where the last ended).
    np.testing.assert_allclose(log_q, plain_log_q, rtol=1e-12)
    for phi, u, expected in zip(phis, draws, log_q, strict=True):
        inner = route.conditional_mode(phi)
        covariance = np.linalg.inv(_dense(inner.precision))
        centre = inner.u + conditional_mean_shift(route, inner, phi)
        assert stats.multivariate_normal(centre, covariance).logpdf(u) == pytest.approx(
            expected, abs=1e-9
        )
    joint = draws_module.JointOverDraws(split)
    np.testing.assert_allclose(log_p, joint(draws, phis), rtol=1e-12)


def _dense(precision) -> np.ndarray:
    matrix = precision.matrix
    if np.ndim(matrix) == 1:
        return np.diag(matrix)
    return matrix.toarray() if hasattr(matrix, "toarray") else matrix
