"""find_mode: closed-form maxima of likelihoods and posteriors, and the flag when none exists."""

import warnings

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher.errors import PointError
from pmfisher.fitting.mode import DENSE_HESSIAN_LIMIT, require_converged
from tests.closed_forms import (
    BERNOULLI_Y,
    NORMAL_Y,
    POISSON_Y,
    bernoulli,
    model_for,
    normal,
    poisson,
)


def test_mle_of_normal_is_mean_and_biased_sd():
    mode = pmfisher.find_mode(model=model_for(normal), terms="likelihood", space="constrained")
    assert mode.converged
    np.testing.assert_allclose(mode.x, [NORMAL_Y.mean(), NORMAL_Y.std()], rtol=1e-8)
    assert mode.labels == ("mu", "sigma")


def test_map_depends_on_the_space_through_the_jacobian():
    # Beta(1, 1) prior: constrained MAP = k/n; in the logit space the Jacobian p(1-p)
    # makes it the mode of Beta(k+1, n-k+1) in logit coordinates: (k+1)/(n+2).
    k, n = BERNOULLI_Y.sum(), BERNOULLI_Y.size
    model = model_for(bernoulli)
    constrained = pmfisher.find_mode(model=model, terms="posterior", space="constrained")
    unconstrained = pmfisher.find_mode(model=model, terms="posterior", space="unconstrained")
    np.testing.assert_allclose(constrained.point["p"], k / n, rtol=1e-8)
    np.testing.assert_allclose(unconstrained.point["p"], (k + 1) / (n + 2), rtol=1e-8)
    np.testing.assert_allclose(unconstrained.x, np.log((k + 1) / (n - k + 1)), rtol=1e-8)


def test_poisson_posterior_mode_with_gamma_prior():
    # Gamma(2, 1) prior, constrained MAP = (Σy + 1) / (n + 1).
    mode = pmfisher.find_mode(model=model_for(poisson), terms="posterior", space="constrained")
    np.testing.assert_allclose(
        mode.point["lam"], (POISSON_Y.sum() + 1) / (POISSON_Y.size + 1), rtol=1e-8
    )
    assert mode.grad_norm < 1e-6


def test_unbounded_density_is_flagged_not_silently_returned():
    # Normal likelihood with one observation: sigma -> 0 at mu = y sends the density to +inf.
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 10)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Normal("y", mu, sigma, observed=[0.3])
    with pytest.warns(UserWarning, match="did not converge"):
        mode = pmfisher.find_mode(model=model, terms="likelihood", random_seed=0)
    assert not mode.converged
    with (
        pytest.warns(UserWarning, match="did not converge"),
        pytest.raises(pmfisher.PMFisherError, match="no mode of the likelihood"),
    ):
        pmfisher.observed_information(model=model)


def test_a_saddle_start_is_left_for_a_true_mode():
    # log p = -(x² - 1)²: the default start x = 0 is stationary but a minimum of log p, so
    # the Newton search stops there at once; the restarts find a mode at ±1.
    with pm.Model() as model:
        x = pm.Flat("x")
        pm.Potential("double_well", -((x**2 - 1) ** 2))
    mode = pmfisher.find_mode(model=model, random_seed=0)
    assert mode.converged
    np.testing.assert_allclose(np.abs(mode.x), [1.0], rtol=1e-8)


def test_unbounded_hierarchical_density_names_the_runaway_scale():
    from tests.closed_forms import eight_schools_centred

    with pytest.warns(UserWarning, match="increases without bound"):
        mode = pmfisher.find_mode(model=model_for(eight_schools_centred), random_seed=0)
    assert not mode.converged
    assert "tau_log__ →" in mode.message
    assert "no mode exists" in mode.message
    with pytest.raises(pmfisher.PMFisherError, match="tau_log__"):
        require_converged(mode)


def test_truncated_newton_above_the_dense_limit():
    # Independent N(0, 1) priors and one N(mu_i, 1) observation each: the mode is y / 2.
    size = DENSE_HESSIAN_LIMIT + 50
    y = np.random.default_rng(3).normal(size=size)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0, shape=size)
        pm.Normal("y", mu, 1.0, observed=y)
    mode = pmfisher.find_mode(model=model)
    assert mode.converged
    np.testing.assert_allclose(mode.x, y / 2, rtol=1e-8, atol=1e-10)


BOUNDARY_Y = np.random.default_rng(4).normal(2.0, 1.0, size=50)


def uniform_mean():
    """The data's mean (2) lies outside the prior's support (-1, 1)."""
    with pm.Model() as model:
        mu = pm.Uniform("mu", -1.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=BOUNDARY_Y)
    return model


@pytest.mark.parametrize("space", ["constrained", "unconstrained"])
def test_a_maximum_on_the_boundary_is_not_a_converged_mode(space):
    with pytest.warns(UserWarning, match="boundary of the support"):
        mode = pmfisher.find_mode(model=model_for(uniform_mean), terms="likelihood", space=space)
    assert not mode.converged
    assert "mu_interval__ ran off towards the edge" in mode.message
    np.testing.assert_allclose(mode.point["mu"], 1.0, atol=1e-6)
    # The search behind observed_information() may be one already made (and warned about)
    # for this model and data: the error says it all the same.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(pmfisher.PMFisherError, match="boundary"):
            pmfisher.observed_information(model=model_for(uniform_mean))


def test_the_jacobian_makes_the_unconstrained_posterior_mode_interior():
    mode = pmfisher.find_mode(model=model_for(uniform_mean))
    assert mode.converged
    assert mode.message == ""
    assert -1.0 < mode.point["mu"] < 1.0


def non_identified():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 10.0)
        b = pm.Normal("b", 0.0, 10.0)
        pm.Normal("y", a + b, 1.0, observed=NORMAL_Y)
    return model


def test_flat_directions_of_a_mode_are_named():
    with pytest.warns(UserWarning, match="not unique") as record:
        mode = pmfisher.find_mode(model=model_for(non_identified), terms="likelihood")
    assert mode.converged
    assert mode.x.sum() == pytest.approx(NORMAL_Y.mean(), rel=1e-8)
    assert "a (+0.71), b (-0.71)" in str(record[0].message)
    assert "a (+0.71), b (-0.71)" in mode.message
    # The posterior's priors identify a - b: no flat direction, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pmfisher.find_mode(model=model_for(non_identified)).message == ""


def test_singular_observed_information_warns_with_its_null_direction():
    point = {"a": 0.5, "b": 0.5}
    with pytest.warns(UserWarning, match=r"singular.*a \(\+0.71\), b \(-0.71\)"):
        information = pmfisher.observed_information(point, model=model_for(non_identified))
    np.testing.assert_allclose(information.values, np.full((2, 2), NORMAL_Y.size))


@pytest.mark.parametrize(
    ("factory", "start", "culprit"),
    [
        (uniform_mean, {"mu": 3.0}, "outside the support of mu"),
        (normal, {"mu": 0.0, "sigma": -1.0}, "outside the support of sigma"),
        (uniform_mean, {"mu_interval__": np.nan}, "non-finite values at mu_interval__"),
    ],
)
def test_a_start_outside_the_support_is_a_point_error(factory, start, culprit):
    with pytest.raises(pmfisher.PointError, match=culprit):
        pmfisher.find_mode(model=model_for(factory), start=start)


def test_a_start_for_the_hyperparameters_alone_with_latent_variables():
    """The latent variables' values are the inner problem's to find: once a start had to
    name them too."""
    rng = np.random.default_rng(8)
    group = np.repeat(np.arange(5), 4)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        tau = pm.HalfNormal("tau", 2.0)
        b = pm.Normal("b", 0.0, tau, shape=5)
        pm.Normal("y", mu + b[group], 1.0, observed=rng.normal(0.0, 2.0, size=20))
    options = {"model": model, "terms": "likelihood", "space": "constrained", "latent": ["b"]}
    started = pmfisher.find_mode(start={"mu": 0.5, "tau": 1.5}, **options)
    default = pmfisher.find_mode(**options)
    assert started.converged
    np.testing.assert_allclose(started.x, default.x, rtol=1e-5)
    with pytest.raises(PointError, match="missing free variable"):
        pmfisher.find_mode(start={"mu": 0.5}, **options)


def sleepstudy_in_lme4s_form():
    """lme4's ``Reaction ~ Days + (Days | Subject)`` in its own form, ``b = Λu`` with
    ``u ~ N(0, I)`` and a lower-triangular ``Λ``, on 18 subjects × 10 days simulated at lme4's
    published ML estimates of ``sleepstudy``; and statsmodels' ML fit of the same data."""
    import pandas as pd
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(2024)
    sds, correlation = np.array([23.78, 5.72]), 0.08
    covariance = np.outer(sds, sds) * np.array([[1.0, correlation], [correlation, 1.0]])
    effects = rng.multivariate_normal(np.zeros(2), covariance, size=18)
    subject, days = np.repeat(np.arange(18), 10), np.tile(np.arange(10.0), 18)
    mean = 251.405 + effects[subject, 0] + (10.467 + effects[subject, 1]) * days
    reaction = mean + 25.59 * rng.standard_normal(subject.size)
    with pm.Model(coords={"subject": range(18), "effect": ["intercept", "slope"]}) as model:
        day = pm.Data("days", days)
        beta = pm.Normal("beta", 0.0, 1000.0, dims="effect")
        scale = pm.HalfNormal("lambda_sd", 50.0, dims="effect")
        cross = pm.Normal("lambda_cross", 0.0, 50.0)
        sigma = pm.HalfNormal("sigma", 50.0)
        u = pm.Normal("u", 0.0, 1.0, dims=("subject", "effect"))
        intercepts, slopes = scale[0] * u[:, 0], cross * u[:, 0] + scale[1] * u[:, 1]
        mean = beta[0] + intercepts[subject] + (beta[1] + slopes[subject]) * day
        pm.Normal("reaction", mean, sigma, observed=reaction)
    frame = pd.DataFrame({"reaction": reaction, "days": days, "subject": subject})
    fit = smf.mixedlm("reaction ~ days", frame, groups="subject", re_formula="~days")
    return model, fit.fit(reml=False, method=["lbfgs"])


@pytest.mark.parametrize("near_zero", ["intercept", "slope"])
def test_restarts_leave_a_start_that_leads_to_the_edge(monkeypatch, near_zero):
    """A start with one of Λ's diagonal entries near 0 leads the marginal search to that
    edge of the support, where it stops (said, not converged); the restarts take that
    variable back to the model's initial point and reach the interior maximum, statsmodels'
    MixedLM. Restarts jittered around the start itself all went back to the edge."""
    model, reference = sleepstudy_in_lme4s_form()
    scales = {"intercept": [1e-6, 5.0], "slope": [20.0, 1e-8]}[near_zero]
    start = {"beta": [250.0, 10.0], "lambda_sd": scales, "lambda_cross": 0.0, "sigma": 25.0}
    options = {"model": model, "terms": "likelihood", "latent": "u", "start": start}
    monkeypatch.setattr("pmfisher.fitting.mode.RESTARTS", 0)
    with pytest.warns(UserWarning, match="boundary of the support"):
        alone = pmfisher.find_mode(**options, random_seed=1)
    assert alone.boundary == ("lambda_sd",)
    monkeypatch.undo()
    mode = pmfisher.find_mode(**options, random_seed=1)
    assert mode.converged
    assert mode.boundary == ()
    assert mode.logp == pytest.approx(reference.llf, abs=1e-8)
    (intercept, slope), cross = mode.point["lambda_sd"], mode.point["lambda_cross"]
    factor = np.array([[intercept, 0.0], [cross, slope]])
    np.testing.assert_allclose(factor @ factor.T, reference.cov_re.values, rtol=1e-4)


def test_zero_sum_effects_are_the_projected_shrunken_group_means():
    """``find_mode(latent=...)`` on ``pm.ZeroSumNormal`` random intercepts, as users write
    them (``pm.Data`` index, dims): the point holds all 25 effects, and with n rows per group
    they are the closed form given the mode's μ, s, σ — each group's shrunken mean residual
    (n/σ²)/(n/σ² + 1/s²)·(ȳ_j − μ), projected onto the vectors that sum to zero (the
    conditional precision is a multiple of the identity on that subspace)."""
    groups, rows = 25, 6
    rng = np.random.default_rng(4)
    index = np.repeat(np.arange(groups), rows)
    y = rng.normal(0.5 + rng.normal(0.0, 0.7, groups)[index], 1.0)
    with pm.Model(coords={"group": range(groups), "obs": range(groups * rows)}) as model:
        group = pm.Data("group_index", index, dims="obs")
        mu, s, sigma = pm.Normal("mu", 0, 5), pm.HalfNormal("s", 1), pm.HalfNormal("sigma", 1)
        a = pm.ZeroSumNormal("a", s, dims="group")
        pm.Normal("y", mu + a[group], sigma, observed=y, dims="obs")
    point = pmfisher.find_mode(model=model, latent="a").point
    mu, s, sigma = (float(point[name]) for name in ("mu", "s", "sigma"))
    precision = rows / sigma**2
    shrunken = precision / (precision + 1 / s**2) * (y.reshape(groups, rows).mean(1) - mu)
    assert point["a"].shape == (groups,)
    np.testing.assert_allclose(point["a"], shrunken - shrunken.mean(), rtol=1e-8, atol=1e-10)
