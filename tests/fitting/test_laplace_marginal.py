"""The Laplace marginal: exact where the conditional is Gaussian (a linear mixed model against
statsmodels and the closed-form normal likelihood), exact
derivatives on GLMMs (against Richardson finite differences of the marginal itself), the
sparse route equal to the dense one to rounding, the tensor law between spaces, and the errors
for bad ``latent=`` and for a route that cannot fit in memory."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

import pmfisher
from pmfisher._core.compiled import compilation
from pmfisher._core.curvature import memory
from pmfisher.errors import InsufficientMemoryError, PMFisherError, UnsupportedModelError
from pmfisher.fitting.laplace_marginal import InnerModeError, laplace_marginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.latent.sparse_latent import SparseLatent
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian

RNG = np.random.default_rng(3)
GROUPS, PER_GROUP = 12, 8
GROUP = np.repeat(np.arange(GROUPS), PER_GROUP)
X = RNG.normal(size=GROUPS * PER_GROUP)
Y = (
    1.0
    + 0.5 * X
    + RNG.normal(0, 0.8, GROUPS)[GROUP]
    + RNG.normal(0, 0.5, GROUPS)[GROUP] * X
    + RNG.normal(0, 0.7, GROUPS * PER_GROUP)
)
LATENT = ["b0", "b1"]


@pytest.fixture(scope="module")
def mixed_model():
    """Random intercepts and random slopes, independent, with a Gaussian response."""
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 10, shape=2)
        s0 = pm.HalfNormal("s0", 2)
        s1 = pm.HalfNormal("s1", 2)
        sigma = pm.HalfNormal("sigma", 2)
        b0 = pm.Normal("b0", 0, s0, shape=GROUPS)
        b1 = pm.Normal("b1", 0, s1, shape=GROUPS)
        pm.Normal("y", beta[0] + beta[1] * X + b0[GROUP] + b1[GROUP] * X, sigma, observed=Y)
    return model


@pytest.fixture(scope="module")
def statsmodels_fit():
    data = pd.DataFrame({"y": Y, "x": X, "g": GROUP})
    # The random-effects covariance restricted to its diagonal, as in the PyMC model.
    free = sm.regression.mixed_linear_model.MixedLMParams.from_components(np.ones(2), np.eye(2))
    return smf.mixedlm("y ~ x", data, groups="g", re_formula="~x").fit(
        reml=False, free=free, method="lbfgs", maxiter=2000
    )


@pytest.fixture(scope="module")
def mixed_mode(mixed_model):
    return pmfisher.find_mode(
        model=mixed_model, terms="likelihood", space="unconstrained", latent=LATENT
    )


def test_marginal_mle_equals_statsmodels(mixed_mode, statsmodels_fit):
    point = mixed_mode.point
    assert mixed_mode.converged
    assert mixed_mode.labels == ("beta[0]", "beta[1]", "s0_log__", "s1_log__", "sigma_log__")
    np.testing.assert_allclose(point["beta"], statsmodels_fit.fe_params, atol=1e-4)
    np.testing.assert_allclose(
        [point["s0"] ** 2, point["s1"] ** 2], np.diag(statsmodels_fit.cov_re), atol=1e-4
    )
    np.testing.assert_allclose(point["sigma"] ** 2, statsmodels_fit.scale, atol=1e-4)
    np.testing.assert_allclose(mixed_mode.logp, statsmodels_fit.llf, rtol=1e-9)
    # The latent variables at their conditional mode: the BLUPs.
    blups = np.array([effects.values for effects in statsmodels_fit.random_effects.values()])
    np.testing.assert_allclose(np.c_[point["b0"], point["b1"]], blups, atol=1e-4)


def test_standard_errors_equal_statsmodels(mixed_model, mixed_mode, statsmodels_fit):
    information = pmfisher.observed_information(
        mixed_mode, model=mixed_model, latent=LATENT, space="unconstrained"
    )
    assert information.attrs["latent"] == LATENT
    covariance = np.linalg.inv(information.values)
    # statsmodels' parameters: β and the variance ratios ψ_k = s_k² / σ² (σ² profiled out,
    # whose inverse information is the corresponding block of the full one at the MLE).
    ratios = np.array([mixed_mode.point["s0"] ** 2, mixed_mode.point["s1"] ** 2])
    ratios /= mixed_mode.point["sigma"] ** 2
    jacobian = np.zeros((4, 5))
    jacobian[0, 0] = jacobian[1, 1] = 1.0
    jacobian[2, 2], jacobian[2, 4] = 2 * ratios[0], -2 * ratios[0]
    jacobian[3, 3], jacobian[3, 4] = 2 * ratios[1], -2 * ratios[1]
    errors = np.sqrt(np.diag(jacobian @ covariance @ jacobian.T))
    expected = statsmodels_fit.bse[["Intercept", "x", "g Var", "x Var"]].to_numpy()
    np.testing.assert_allclose(errors, expected, atol=1e-4)


def test_marginal_density_is_the_multivariate_normal(mixed_model):
    marginal = laplace_marginal(mixed_model, LATENT, space="unconstrained", terms="likelihood")
    beta, s0, s1, sigma = np.array([0.7, -0.2]), 0.9, 0.4, 1.3  # away from the mode
    phi = np.r_[beta, np.log([s0, s1, sigma])]
    exact = 0.0
    for group in range(GROUPS):
        x = X[group == GROUP]
        design = np.c_[np.ones_like(x), x]
        covariance = design @ np.diag([s0**2, s1**2]) @ design.T + sigma**2 * np.eye(x.size)
        exact += stats.multivariate_normal(design @ beta, covariance).logpdf(Y[group == GROUP])
    assert abs(marginal.value(phi) - exact) < 1e-10
    value, _ = marginal.value_and_gradient(phi)
    assert abs(value - exact) < 1e-10


def test_a_gaussian_conditional_is_solved_in_one_call():
    """Random intercepts and slopes on a covariate, with a Gaussian response and groups of
    uneven size: the graph proves f quadratic in u, so û is one Newton step from any start,
    taken inside one compiled call with L and ∇L. Each piece equals what the damped Newton
    iteration and the general gradient formula give (the same marginal with the one-step
    route turned off), at φ away from the mode and from starts far from û."""
    group = np.repeat(np.arange(5), [1, 2, 3, 5, 9])
    x = np.linspace(-1.0, 2.0, group.size)
    y = np.sin(3 * x) + group
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 1)
        sigma = pm.LogNormal("sigma", 0, 1)
        z = pm.Normal("z", 0, 1, shape=5)
        slope = pm.Normal("slope", 0, 1)
        pm.Normal("y", mu + tau * z[group] * x + slope * x, sigma, observed=y)
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="posterior", structure="sparse"
    )
    assert marginal.split.conditional_is_gaussian
    assert marginal.one_step_gaussian
    iterated = type(marginal)(marginal.split, structure="sparse")
    iterated.one_step_gaussian = False
    calls = []
    function = marginal.structured._gaussian_mode_fn
    marginal.structured._gaussian_mode_fn = lambda *a: calls.append(1) or function(*a)
    for phi in np.array([0.5, -0.3, 0.1, 0.7]) + 0.4 * RNG.standard_normal((4, 4)):
        start = 3.0 * RNG.standard_normal(5)
        inner = marginal.conditional_mode(phi, start=start, with_gradient=True)
        reference = iterated.conditional_mode(phi, start=start)
        assert inner.n_iter == 1
        assert reference.n_iter >= 1
        np.testing.assert_allclose(inner.u, reference.u, rtol=1e-12, atol=1e-12)
        assert inner.logp == pytest.approx(reference.logp, rel=1e-13)
        np.testing.assert_allclose(inner.precision.matrix, reference.precision.matrix, rtol=1e-13)
        np.testing.assert_allclose(
            inner.gradient,
            iterated.structured.gradient(reference.u, phi, reference.precision),
            rtol=1e-11,
            atol=1e-11,
        )
        assert marginal.value(phi) == pytest.approx(iterated.value(phi), abs=1e-10)
    assert len(calls) == 8


# -- GLMMs: exact derivatives -----------------------------------------------------------------

GLMM_GROUPS = 6
GLMM_GROUP = np.repeat(np.arange(GLMM_GROUPS), 6)
GLMM_X = RNG.normal(size=GLMM_GROUP.size)
GLMM_EFFECTS = RNG.normal(0, 0.7, GLMM_GROUPS)
POISSON_Y = RNG.poisson(np.exp(0.4 + 0.6 * GLMM_X + GLMM_EFFECTS[GLMM_GROUP]))
BERNOULLI_Y = RNG.binomial(1, 1 / (1 + np.exp(-(0.2 - 0.9 * GLMM_X + GLMM_EFFECTS[GLMM_GROUP]))))


@pytest.fixture(scope="module")
def poisson_glmm():
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 2, shape=2)
        tau = pm.HalfNormal("tau", 1)
        u = pm.Normal("u", 0, tau, shape=GLMM_GROUPS)
        pm.Poisson("y", pm.math.exp(beta[0] + beta[1] * GLMM_X + u[GLMM_GROUP]), observed=POISSON_Y)
    return model


@pytest.fixture(scope="module")
def bernoulli_glmm():
    """An interval transform on the scale (not a log) and a non-centred latent vector."""
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 2, shape=2)
        tau = pm.Uniform("tau", 0.0, 4.0)
        z = pm.Normal("z", 0, 1, shape=GLMM_GROUPS)
        eta = beta[0] + beta[1] * GLMM_X + tau * z[GLMM_GROUP]
        pm.Bernoulli("y", logit_p=eta, observed=BERNOULLI_Y)
    return model


@pytest.mark.parametrize(
    ("model_name", "latent", "terms", "phi"),
    [
        ("poisson_glmm", "u", "likelihood", [0.3, 0.5, np.log(0.6)]),
        ("bernoulli_glmm", "z", "posterior", [0.1, -0.7, -0.4]),
    ],
)
def test_gradient_and_hessian_equal_finite_differences(request, model_name, latent, terms, phi):
    model = request.getfixturevalue(model_name)
    marginal = laplace_marginal(model, latent, space="unconstrained", terms=terms)
    phi = np.array(phi)
    value, gradient = marginal.value_and_gradient(phi)
    assert value == pytest.approx(marginal.value(phi), abs=1e-12)
    reference = finite_difference_jacobian(lambda p: np.array([marginal.value(p)]), phi)[0]
    np.testing.assert_allclose(gradient, reference, atol=1e-6)
    hessian = marginal.hessian(phi)
    reference = finite_difference_hessian(lambda p: marginal.value_and_gradient(p)[1], phi)
    np.testing.assert_allclose(hessian, reference, atol=1e-6)
    # The conditional is not Gaussian: the Laplace terms matter (a check that can fail).
    inner = marginal.conditional_mode(phi)
    assert abs(value - inner.logp) > 1e-2


def test_the_sparse_route_equals_the_dense_one(poisson_glmm):
    """The sparse route's value, gradient and Hessian (the selected inverse's off-diagonal
    entries are checked in ``tests/_core/linalg/test_selected_inverse.py``; a linear mixed model's
    2 × 2 blocks were left out: compiling its fourth derivatives takes minutes)."""
    dense, sparse = (
        laplace_marginal(
            poisson_glmm, "u", space="unconstrained", terms="likelihood", structure=structure
        )
        for structure in ("dense", "sparse")
    )
    assert (dense.structure, sparse.structure) == ("dense", "sparse")
    phi = np.array([0.3, 0.5, np.log(0.6)])
    value, gradient = sparse.value_and_gradient(phi)
    reference_value, reference_gradient = dense.value_and_gradient(phi)
    assert value == pytest.approx(reference_value, abs=1e-10)
    assert sparse.value(phi) == pytest.approx(reference_value, abs=1e-10)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.hessian(phi), dense.hessian(phi), rtol=0, atol=1e-10)


@pytest.mark.parametrize("structure", ["dense", "sparse"])
def test_every_function_of_the_marginal_is_stored(poisson_glmm, structure):
    """Each compiled function of L, ∇L and the Hessian has a digest, so a new process loads it
    instead of compiling it again (the dense route's two functions of ``û`` had none: the
    MvNormal sleepstudy model spent 18 s of every process compiling them again)."""
    before = dict(compilation.statistics)
    marginal = laplace_marginal(
        poisson_glmm, "u", space="unconstrained", terms="likelihood", structure=structure
    )
    phi = np.array([0.3, 0.5, np.log(0.6)])
    marginal.value_and_gradient(phi)
    marginal.hessian(phi)
    assert compilation.statistics["uncacheable"] == before.get("uncacheable", 0)


def test_the_diagonal_route_equals_the_general_sparse_one(poisson_glmm):
    """A diagonal latent Hessian takes the elementwise route (no CHOLMOD, no selected
    inverse); piece by piece it equals the general sparse route's, which serves every other
    sparse H (the route the previous test checks against the dense one before this one)."""
    marginal = laplace_marginal(
        poisson_glmm, "u", space="unconstrained", terms="likelihood", structure="sparse"
    )
    diagonal = marginal.structured
    assert isinstance(diagonal, DiagonalLatent)
    general = SparseLatent(marginal.split)
    phi = np.array([0.3, 0.5, np.log(0.6)])
    u = marginal.conditional_mode(phi).u
    logp, gradient, curvature = diagonal.curvature(u, phi)
    reference_logp, reference_gradient, precision = general.curvature(u, phi)
    assert logp == pytest.approx(reference_logp, abs=1e-12)
    np.testing.assert_allclose(gradient, reference_gradient, rtol=0, atol=1e-12)
    assert np.count_nonzero(precision - np.diag(precision.diagonal())) == 0
    np.testing.assert_allclose(curvature, precision.diagonal(), rtol=1e-13)
    factor, reference = diagonal.factor(curvature), general.factor(precision)
    assert factor.log_determinant == pytest.approx(reference.log_determinant, abs=1e-12)
    for piece in ("sensitivity", "hessian"):
        np.testing.assert_allclose(
            getattr(diagonal, piece)(u, phi, factor),
            getattr(general, piece)(u, phi, reference),
            rtol=0,
            atol=1e-10,
        )
    np.testing.assert_allclose(
        diagonal.gradient(u, phi, factor),
        general.gradient(u, phi, reference),
        rtol=0,
        atol=1e-10,
    )
    # The last Newton step's call, with the gradient along: the same four pieces.
    together = diagonal.curvature_and_gradient(u, phi)
    assert together[0] == pytest.approx(logp, abs=1e-12)
    alone = (gradient, curvature, diagonal.gradient(u, phi, factor))
    for piece, reference_piece in zip(together[1:], alone, strict=True):
        np.testing.assert_allclose(piece, reference_piece, rtol=1e-13, atol=1e-13)


def test_information_obeys_the_tensor_law_between_spaces(poisson_glmm):
    mode = pmfisher.find_mode(model=poisson_glmm, terms="likelihood", latent="u")
    assert mode.converged
    assert set(mode.point) == {"beta", "tau", "u"}
    unconstrained = pmfisher.observed_information(
        mode, model=poisson_glmm, latent="u", space="unconstrained"
    )
    constrained = pmfisher.observed_information(mode, model=poisson_glmm, latent="u")
    assert list(constrained.param_i.values) == ["beta[0]", "beta[1]", "tau"]
    # At the marginal MLE the gradient vanishes: I_ψ = Jᵀ I_θ J with J = diag(1, 1, τ).
    jacobian = np.diag([1.0, 1.0, float(mode.point["tau"])])
    np.testing.assert_allclose(
        unconstrained.values, jacobian @ constrained.values @ jacobian, rtol=1e-7
    )


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latent", "error", "match"),
    [
        (["nope"], PMFisherError, "not a variable of the model"),
        (["y"], PMFisherError, "an observed variable"),
        (["u", "u"], PMFisherError, "twice"),
        (["beta", "tau", "u"], UnsupportedModelError, "nothing is left"),
    ],
)
def test_bad_latent_names_are_named(poisson_glmm, latent, error, match):
    with pytest.raises(error, match=match):
        pmfisher.observed_information(
            {"beta": [0.0, 0.0], "tau": 1.0}, model=poisson_glmm, latent=latent
        )


def test_an_inner_problem_without_a_mode_is_a_typed_error():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        u = pm.Flat("u")  # nothing keeps u finite: all-ones data push it to infinity
        pm.Bernoulli("y", logit_p=mu + u, observed=np.ones(5))
    marginal = laplace_marginal(model, "u", space="unconstrained", terms="likelihood")
    with pytest.raises(InnerModeError, match=r"latent variables u .* mu=0"):
        marginal.conditional_mode(np.array([0.0]))


def test_a_dense_latent_hessian_that_cannot_fit_is_a_typed_error(monkeypatch):
    with pm.Model() as model:  # a fresh model: the marginal is cached per model graph
        tau = pm.HalfNormal("tau", 1)
        u = pm.Normal("u", 0, tau, shape=GLMM_GROUPS)
        pm.Poisson("y", pm.math.exp(u[GLMM_GROUP]), observed=POISSON_Y)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**10)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    with pytest.raises(InsufficientMemoryError, match=r"dense conditional Hessian.*'sparse'"):
        laplace_marginal(model, "u", space="constrained", terms="posterior", structure="dense")


@pytest.mark.parametrize("structure", ["dense", "sparse"])
def test_an_overflowing_conditional_hessian_is_an_inner_mode_error(poisson_glmm, structure):
    """Far out in φ, where NUTS's first tuning steps go (τ = e^-400: the prior precision
    1/τ² overflows), the inner problem has no mode to find: a typed error, which the
    sampler's density turns into a rejected proposal (it was an AttributeError on the
    sparse route)."""
    marginal = laplace_marginal(
        poisson_glmm, "u", space="unconstrained", terms="likelihood", structure=structure
    )
    with pytest.raises(InnerModeError, match="latent variables u"):
        marginal.conditional_mode(np.array([0.3, 0.5, -400.0]))


def test_the_hessian_follows_set_data_of_the_same_shape():
    """``pm.set_data`` with new values of the same shape keeps the marginal; its Hessian at
    the same φ must be the new data's (a marginal built on the new data from scratch)."""

    def model_on(y):
        with pm.Model() as model:
            response = pm.Data("y_data", y)
            mu = pm.Normal("mu", 0, 10)
            tau = pm.HalfNormal("tau", 2)
            b = pm.Normal("b", 0, tau, shape=GROUPS)
            pm.Normal("y", mu + b[GROUP], 0.7, observed=response)
        return model

    shifted = 1.7 * Y + 0.3
    model = model_on(Y)
    marginal = laplace_marginal(model, ["b"], space="unconstrained", terms="likelihood")
    phi = np.array([0.9, np.log(0.6)])
    before = marginal.hessian(phi)
    with model:
        pm.set_data({"y_data": shifted})
    after = marginal.hessian(phi)
    fresh = laplace_marginal(model_on(shifted), ["b"], space="unconstrained", terms="likelihood")
    np.testing.assert_allclose(after, fresh.hessian(phi), rtol=1e-10)
    assert not np.allclose(after, before)
