"""Draws of the latent variables given draws of the hyperparameters: the batched Newton
iteration for a diagonal latent Hessian gives the same conditional modes, draws and
log-densities as one solve per draw, and rows it cannot solve go to the single solve; the
quadrature route's draws are the mixture of the conditional Gaussians at their own φ, against
the closed form."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats

import pmfisher
from pmfisher.approximation import conditional_draws as module
from pmfisher.approximation.conditional_draws import conditional_draws
from pmfisher.fitting.laplace_marginal import laplace_marginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.latent.sparse_latent import SparseLatent

RNG = np.random.default_rng(11)
GROUPS = 15
GROUP = np.repeat(np.arange(GROUPS), 4)
X = RNG.normal(size=GROUP.size)
Y = RNG.poisson(np.exp(0.3 + 0.5 * X + RNG.normal(0, 0.8, GROUPS)[GROUP]))
PHI_MODE = np.array([0.3, 0.5, np.log(0.8)])


@pytest.fixture(scope="module", params=["poisson", "normal"])
def marginal(request):
    """A Poisson GLMM: the conditional of ``u`` is not Gaussian (Newton iterates, with line
    searches far from the mode), and its Hessian is diagonal. Its normal twin: a Gaussian
    conditional, which the batch solves in one step per row."""
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 2, shape=2)
        tau = pm.HalfNormal("tau", 1)
        u = pm.Normal("u", 0, tau, shape=GROUPS)
        eta = beta[0] + beta[1] * X + u[GROUP]
        if request.param == "poisson":
            pm.Poisson("y", pm.math.exp(eta), observed=Y)
        else:
            pm.Normal("y", eta, 0.7, observed=np.log1p(Y))
    marginal = laplace_marginal(
        model, "u", space="unconstrained", terms="posterior", structure="sparse"
    )
    assert isinstance(marginal.structured, DiagonalLatent)
    assert marginal.split.conditional_is_gaussian is (request.param == "normal")
    return marginal


def one_by_one(marginal, phis, u_mode, seed):
    """The reference: one damped Newton solve per draw from the mode's ``û`` (iterated even
    where one step would do), and the draw and log-density from the general sparse route's
    CHOLMOD factor of ``H`` there; also ``û`` and the diagonal of ``H``."""
    general = SparseLatent(marginal.split)
    iterated = type(marginal)(marginal.split, structure="sparse")
    iterated.one_step_gaussian = False
    standard = np.random.default_rng(seed).standard_normal((phis.shape[0], marginal.split.n_u))
    draws, log_q, modes, diagonals = [], [], [], []
    for phi, z in zip(phis, standard, strict=True):
        inner = iterated.conditional_mode(phi, start=u_mode)
        precision = general.curvature(inner.u, phi)[2]
        modes.append(inner.u)
        diagonals.append(precision.diagonal())
        draws.append(inner.u + general.factor(precision).deviations(z[None])[0])
        covariance = np.linalg.inv(precision.toarray())
        log_q.append(stats.multivariate_normal(inner.u, covariance).logpdf(draws[-1]))
    return np.array(draws), np.array(log_q), np.array(modes), np.array(diagonals)


def test_batched_draws_equal_one_solve_per_draw(marginal):
    u_mode = marginal.conditional_mode(PHI_MODE).u
    # Spread wide enough that some rows need damped steps, and one far out.
    phis = PHI_MODE + 0.5 * RNG.standard_normal((40, 3))
    phis[0] = [2.5, -1.5, 1.5]
    draws, log_q, log_p = conditional_draws(
        marginal, phis, PHI_MODE, u_mode, np.random.default_rng(5), conditional="gaussian"
    )
    reference_draws, reference_log_q, modes, diagonals = one_by_one(marginal, phis, u_mode, 5)
    np.testing.assert_allclose(draws, reference_draws, rtol=0, atol=1e-9)
    np.testing.assert_allclose(log_q, reference_log_q, rtol=0, atol=1e-9)
    # The joint density at the draws: for the normal twin from f(û) and the draw's ε alone.
    joint = module.JointOverDraws(marginal.split)
    np.testing.assert_allclose(log_p, joint(draws, phis), rtol=1e-12, atol=1e-9)
    # Every row was solved by the batch itself, not by the single solve behind it.
    if marginal.split.conditional_is_gaussian:
        rows = phis.shape[0]
        standard = np.random.default_rng(5).standard_normal((rows, marginal.split.n_u))
        log_determinants, at_modes = np.empty(rows), np.empty(rows)
        solved = module._gaussian_diagonal_draws(
            marginal.split, phis, u_mode, standard, log_determinants, at_modes
        )
        assert solved.all()
        np.testing.assert_allclose(standard, draws, rtol=0, atol=1e-12)
        np.testing.assert_allclose(log_determinants, np.log(diagonals).sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(at_modes, joint(modes, phis), rtol=1e-12, atol=1e-9)
        return
    batched = marginal.split.companion(module._DiagonalNewton)
    batched_modes, curvatures, solved, at_modes = batched(
        np.broadcast_to(u_mode, modes.shape), phis
    )
    assert solved.all()
    np.testing.assert_allclose(batched_modes, modes, rtol=0, atol=1e-9)
    np.testing.assert_allclose(curvatures, diagonals, rtol=1e-10)
    np.testing.assert_allclose(at_modes, joint(modes, phis), rtol=1e-12, atol=1e-9)


def test_rows_the_batch_cannot_solve_are_solved_alone(marginal, monkeypatch):
    """A row whose batched solve reports failure is solved by the single Newton iteration:
    the results do not change."""
    u_mode = marginal.conditional_mode(PHI_MODE).u
    phis = PHI_MODE + 0.3 * RNG.standard_normal((6, 3))
    if marginal.split.conditional_is_gaussian:
        # One call a row: every other row's f comes back not finite (then the single solves).
        companion = marginal.split.companion(DiagonalLatent)
        function, calls = companion.curvature_fn, iter(range(phis.shape[0]))

        def failing_rows(u, phi):
            logp, gradient, curvature = function(u, phi)
            return (np.nan if next(calls, 1) % 2 == 0 else logp), gradient, curvature

        monkeypatch.setattr(companion, "curvature_fn", failing_rows)
    else:
        batched = module._DiagonalNewton.__call__

        def failing_rows(self, starts, rows):
            modes, curvatures, solved, at_modes = batched(self, starts, rows)
            modes[::2], curvatures[::2], solved[::2], at_modes[::2] = np.nan, -1.0, False, np.nan
            return modes, curvatures, solved, at_modes

        monkeypatch.setattr(module._DiagonalNewton, "__call__", failing_rows)
    draws, log_q, log_p = conditional_draws(
        marginal, phis, PHI_MODE, u_mode, np.random.default_rng(2), conditional="gaussian"
    )
    reference_draws, reference_log_q, _, _ = one_by_one(marginal, phis, u_mode, seed=2)
    np.testing.assert_allclose(draws, reference_draws, rtol=0, atol=1e-9)
    np.testing.assert_allclose(log_q, reference_log_q, rtol=0, atol=1e-9)
    joint = module.JointOverDraws(marginal.split)
    np.testing.assert_allclose(log_p, joint(draws, phis), rtol=1e-12, atol=1e-9)


def test_a_dense_gaussian_conditional_gives_the_joint_density_in_closed_form(monkeypatch):
    """Correlated effects (an MvNormal with a non-diagonal covariance) and a normal response:
    the dense route, one solve per draw, and f at each draw from f(û) − ½ε'ε, which holds
    only if the draw is û + L⁻ᵀε for the factor L of H itself. The mean correction is not
    computed (δ = 0 exactly)."""

    def never(*args):
        raise AssertionError("the mean shift of a Gaussian conditional was computed")

    monkeypatch.setattr(module, "conditional_mean_shift", never)
    covariance = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.5], [0.2, -0.5, 1.5]])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        sigma = pm.HalfNormal("sigma", 1)
        z = pm.MvNormal("z", mu=mu * np.ones(3), cov=covariance)
        pm.Normal("y", z[[0, 0, 1, 2, 2, 2]], sigma, observed=[0.3, 1.1, -0.4, 2.0, 1.2, 1.7])
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="posterior", structure="dense"
    )
    assert marginal.split.conditional_is_gaussian
    phi_mode = np.array([0.2, -0.3])
    phis = phi_mode + 0.4 * RNG.standard_normal((7, 2))
    u_mode = marginal.conditional_mode(phi_mode).u
    draws, log_q, log_p = conditional_draws(
        marginal, phis, phi_mode, u_mode, np.random.default_rng(8), conditional="mean_corrected"
    )
    joint = module.JointOverDraws(marginal.split)
    np.testing.assert_allclose(log_p, joint(draws, phis), rtol=1e-12, atol=1e-10)
    # The draws are the conditional Gaussian's: its density at each equals log q.
    for phi, u, expected in zip(phis, draws, log_q, strict=True):
        inner = marginal.conditional_mode(phi)
        covariance_u = np.linalg.inv(inner.precision.matrix)
        assert stats.multivariate_normal(inner.u, covariance_u).logpdf(u) == pytest.approx(
            expected, abs=1e-10
        )


@pytest.mark.parametrize("per_row_from", [10**9, 0], ids=["vectorized", "one call a row"])
def test_the_joint_density_over_draws_is_pymc_own(marginal, monkeypatch, per_row_from):
    """Both ways of computing :math:`f(u_s, \\varphi_s)` over rows give PyMC's log-density
    of the whole model (posterior terms, unconstrained, with the log-Jacobians), on rows
    with different φ each."""
    monkeypatch.setattr(module, "PER_ROW_FROM_ELEMENTS", per_row_from)
    split = marginal.split
    joint = module.JointOverDraws(split)
    phis = PHI_MODE + 0.3 * RNG.standard_normal((5, 3))
    us = RNG.normal(0, 0.5, size=(5, split.n_u))
    model = split.graph.model
    reference = model.compile_logp(jacobian=True)
    expected = [
        reference(
            {
                "beta": phi[:2],
                "tau_log__": phi[2],
                "u": u,
            }
        )
        for u, phi in zip(us, phis, strict=True)
    ]
    np.testing.assert_allclose(joint(us, phis), expected, rtol=1e-12)


# -- the mixture of the quadrature route against its closed form ---------------------------------

MIXTURE_DRAWS = 2000
ROWS_OF = np.array([0, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3, 4, 5, 5])  # uneven groups
MIXED = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.3, 0.7]])
COVARIANCE = np.array([[1.0, 0.6, 0.2], [0.6, 2.0, -0.5], [0.2, -0.5, 1.5]])


def hierarchical_normal():
    """Non-centred groups of uneven size: ``z | μ, τ, σ`` Gaussian with a diagonal precision
    ``1 + n_j τ²/σ²`` and mean ``τ Σ_j (y − μ) / σ²`` over it."""
    y = np.random.default_rng(3).normal(1.0 + 0.8 * np.arange(6)[ROWS_OF] / 5, 0.5)
    coords = {"group": np.arange(6), "row": np.arange(ROWS_OF.size)}
    with pm.Model(coords=coords) as model:
        observed = pm.Data("observed", y, shape=y.shape, dims="row")
        mu = pm.Normal("mu", 0, 2)
        tau = pm.HalfNormal("tau", 1)
        sigma = pm.HalfNormal("sigma", 1)
        z = pm.Normal("z", 0, 1, dims="group")
        rows_of = pm.Data("rows_of", ROWS_OF, shape=ROWS_OF.shape, dims="row")
        pm.Deterministic("theta", mu + tau * z, dims="group")
        # z indexed itself: through the Deterministic, the graph no longer proves the
        # conditional Gaussian (the draws would iterate Newton, not take this route).
        pm.Normal("y", mu + tau * z[rows_of], sigma, observed=observed, dims="row")

    def conditional(posterior):
        mu, tau, sigma = (posterior[name].values.ravel() for name in ("mu", "tau", "sigma"))
        sums = np.stack([np.bincount(ROWS_OF, y - m, minlength=6) for m in mu])
        counts = np.bincount(ROWS_OF, minlength=6)
        precisions = 1 + counts * (tau**2 / sigma**2)[:, None]
        means = (tau / sigma**2)[:, None] * sums / precisions
        return means, precisions[:, :, None] * np.eye(6)

    return model, conditional


def correlated_normal():
    """Correlated effects (``MvNormal``) seen through mixed rows: ``u | μ, σ`` Gaussian with
    the dense precision ``C⁻¹ + AᵀA/σ²`` and mean ``H⁻¹(C⁻¹μ1 + Aᵀy/σ²)``."""
    y = np.array([0.3, 1.1, -0.4, 2.0])
    with pm.Model(coords={"effect": np.arange(3), "row": np.arange(4)}) as model:
        observed = pm.Data("observed", y, shape=y.shape, dims="row")
        mu = pm.Normal("mu", 0, 1)
        sigma = pm.HalfNormal("sigma", 1)
        u = pm.MvNormal("u", mu=mu * np.ones(3), cov=COVARIANCE, dims="effect")
        pm.Deterministic("total", u.sum())
        pm.Normal("y", pt.dot(MIXED, u), sigma, observed=observed, dims="row")

    def conditional(posterior):
        mu, sigma = (posterior[name].values.ravel() for name in ("mu", "sigma"))
        prior = np.linalg.inv(COVARIANCE)
        precisions = prior + (MIXED.T @ MIXED)[None] / (sigma**2)[:, None, None]
        right = (prior @ np.ones(3))[None] * mu[:, None] + (MIXED.T @ y)[None] / (sigma**2)[:, None]
        return np.linalg.solve(precisions, right[..., None])[..., 0], precisions

    return model, conditional


@pytest.mark.parametrize(
    ("build", "latent", "structure"),
    [(hierarchical_normal, "z", "sparse"), (correlated_normal, "u", "dense")],
    ids=["diagonal", "dense"],
)
def test_quadrature_draws_are_the_mixture_of_the_conditionals_at_their_own_phi(
    build, latent, structure
):
    """``laplace(latent=..., hyper="quadrature")``: each draw of the latent variables comes
    from the Gaussian of its own draw of φ, against ``û(φ)`` and ``H(φ)`` in closed form.
    The standardized residuals ``Lᵀ(u − û)`` (``H = LLᵀ``) are independent standard normals,
    so the draws' mean and variance are the mixture's (the law of total variance), within
    MCSE-scaled tolerances; the same residuals with the draws paired with other draws' φ
    fail the check, and the same seed gives the same draws (to rounding)."""
    model, conditional = build()
    options = {"latent": [latent], "hyper": "quadrature", "structure": structure}
    result = pmfisher.laplace(model=model, draws=MIXTURE_DRAWS, random_seed=7, **options)
    assert result.attrs["latent_structure"] == structure  # sparse: diagonal, elementwise
    posterior = result["posterior"]
    draws = posterior[latent].values.reshape(MIXTURE_DRAWS, -1)
    means, precisions = conditional(posterior)
    factors = np.linalg.cholesky(precisions)
    entries = draws.shape[1]

    def standardized(us):
        return np.einsum("sji,sj->si", factors, us - means)

    residuals = standardized(draws)
    count = residuals.size
    assert np.abs(residuals.mean(axis=0)).max() < 4 / np.sqrt(MIXTURE_DRAWS)
    assert abs((residuals**2).mean() - 1) < 4 * np.sqrt(2 / count)
    second = residuals.T @ residuals / MIXTURE_DRAWS
    np.testing.assert_allclose(second, np.eye(entries), atol=4 * np.sqrt(2 / MIXTURE_DRAWS))
    # The mixture's moments: E u = E û, Var u = E H⁻¹ + Var û (entrywise).
    variances = np.linalg.inv(precisions).diagonal(axis1=1, axis2=2)
    mcse = np.sqrt(variances.mean(axis=0) / MIXTURE_DRAWS)
    assert np.all(np.abs(draws.mean(axis=0) - means.mean(axis=0)) < 4 * mcse)
    total = variances.mean(axis=0) + means.var(axis=0)
    tolerance = 4 * total * np.sqrt(2 / (MIXTURE_DRAWS - 1))
    assert np.all(np.abs(draws.var(axis=0) - total) < tolerance)
    # Paired with the wrong φ, the residuals are no longer standard.
    shuffled = standardized(np.random.default_rng(0).permutation(draws))
    assert (shuffled**2).mean() > 1 + 4 * np.sqrt(2 / count)
    again = pmfisher.laplace(model=model, draws=MIXTURE_DRAWS, random_seed=7, **options)
    # To rounding: the inner solves warm-start where the previous call's ended.
    np.testing.assert_allclose(
        again["posterior"][latent].values, posterior[latent].values, rtol=1e-12, atol=1e-12
    )
