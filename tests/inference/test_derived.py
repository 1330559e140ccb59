r"""inference/derived.py: deterministics by the delta method, :math:`g(\hat\theta)` with
variance :math:`\nabla g^\top \Sigma \nabla g`, against the closed forms of a normal sample
(:math:`\Sigma = \mathrm{diag}(s^2/n, s^2/2n)` at the MLE); rows that read an unidentified
parameter have none; a deterministic of the variance components alone is one; one that reads
a latent variable is refused."""

import dataclasses

import numpy as np
import pymc as pm
import pytest

from pmfisher.errors import ArgumentError
from pmfisher.inference.derived import derived_rows
from pmfisher.inference.fits import joint_fit, marginal_fit
from pmfisher.inference.wald import Covariance

SAMPLE = np.array([0.3, 1.1, -0.4, 0.8, 0.2, 1.7, -0.9, 0.5])
MEASURES = np.array([1.2, -0.4, 2.5, 0.3, 1.9, -1.1])
N = SAMPLE.size
MEAN = SAMPLE.mean()
SPREAD = np.sqrt(np.mean((SAMPLE - MEAN) ** 2))
VAR_MU, VAR_SIGMA = SPREAD**2 / N, SPREAD**2 / (2 * N)

#: deterministic → (labels, values, standard errors) at the MLE (ȳ, s).
TRUTHS = {
    "variance": (["variance"], [SPREAD**2], [2 * SPREAD * np.sqrt(VAR_SIGMA)]),
    "cv": (
        ["cv"],
        [SPREAD / MEAN],
        [np.sqrt(SPREAD**2 / MEAN**4 * VAR_MU + VAR_SIGMA / MEAN**2)],
    ),
    "bounds": (
        ["bounds[low]", "bounds[high]"],
        [MEAN - SPREAD, MEAN + SPREAD],
        [np.sqrt(VAR_MU + VAR_SIGMA)] * 2,
    ),
    "shift": (["shift"], [MEAN + 1], [np.sqrt(VAR_MU)]),
}


@pytest.fixture(scope="module")
def normal():
    with pm.Model(coords={"side": ["low", "high"]}) as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Deterministic("variance", sigma**2)
        pm.Deterministic("cv", sigma / mu)
        pm.Deterministic("bounds", mu + sigma * np.array([-1.0, 1.0]), dims="side")
        pm.Deterministic("shift", mu + 1)
        pm.Normal("y", mu, sigma, observed=SAMPLE)
    fit = joint_fit(
        {"mu": MEAN, "sigma": SPREAD},
        model,
        terms="likelihood",
        information="observed",
        structure="dense",
        random_seed=None,
    )
    return model, fit


@pytest.mark.parametrize("name", list(TRUTHS))
def test_each_deterministic_by_the_delta_method(normal, name):
    model, fit = normal
    labels, values, errors, unidentified, roles = derived_rows(fit, model, "likelihood", name)
    expected_labels, expected_values, expected_errors = TRUTHS[name]
    assert labels == expected_labels
    np.testing.assert_allclose(values, expected_values, rtol=1e-12)
    np.testing.assert_allclose(errors, expected_errors, rtol=1e-10)
    assert not unidentified.any()
    assert roles == ["derived"] * len(labels)  # a joint fit has no variance components


def test_several_deterministics_in_the_order_asked(normal):
    model, fit = normal
    labels, values, *_ = derived_rows(fit, model, "likelihood", ["shift", "bounds"])
    assert labels == ["shift", "bounds[low]", "bounds[high]"]
    np.testing.assert_allclose(values, [MEAN + 1, MEAN - SPREAD, MEAN + SPREAD], rtol=1e-12)


def test_a_row_reading_an_unidentified_parameter_has_no_standard_error(normal):
    model, fit = normal
    matrix = np.diag([VAR_MU, np.nan])
    unknown_scale = dataclasses.replace(
        fit, covariance=Covariance(matrix, np.array([False, True]), "σ unidentified")
    )
    labels, _, errors, unidentified, _ = derived_rows(
        unknown_scale, model, "likelihood", ["shift", "variance", "bounds"]
    )
    assert unidentified.tolist() == [False, True, True, True]
    assert errors[0] == pytest.approx(np.sqrt(VAR_MU), rel=1e-12)
    assert np.isnan(errors[1:]).all()
    assert labels[0] == "shift"


def test_a_name_that_is_no_deterministic_is_refused(normal):
    model, fit = normal
    with pytest.raises(
        ArgumentError,
        match="nonexistent, sigma: summary's var_names names deterministics, and the model's "
        "are variance, cv, bounds, shift",
    ):
        derived_rows(fit, model, "likelihood", ["nonexistent", "sigma"])


@pytest.fixture(scope="module")
def random_intercepts():
    """y_j ~ N(u_j, 1), u_j ~ N(μ, τ²), with u integrated out."""
    with pm.Model(coords={"group": list("abcdef")}) as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        tau = pm.HalfNormal("tau", 5.0)
        pm.Deterministic("tau_squared", tau**2)
        pm.Deterministic("mu_plus_tau", mu + tau)
        u = pm.Normal("u", mu, tau, dims="group")
        pm.Deterministic("u_shifted", u + 1, dims="group")
        pm.Normal("y", u, 1.0, observed=MEASURES, dims="group")
    fit = marginal_fit(
        None, model, terms="likelihood", latent=["u"], information="observed", structure="auto"
    )
    return model, fit


def test_a_deterministic_of_the_variance_components_is_one(random_intercepts):
    model, fit = random_intercepts
    tau, tau_se = fit.estimates[1], np.sqrt(fit.covariance.matrix[1, 1])
    assert tau**2 == pytest.approx(np.mean((MEASURES - MEASURES.mean()) ** 2) - 1, rel=1e-6)
    labels, values, errors, _, roles = derived_rows(
        fit, model, "likelihood", ["tau_squared", "mu_plus_tau"]
    )
    assert labels == ["tau_squared", "mu_plus_tau"]
    assert roles == ["variance component", "derived"]
    np.testing.assert_allclose(values, [tau**2, fit.estimates[0] + tau], rtol=1e-12)
    # The delta method: se(τ²) = 2τ·se(τ); se(μ + τ)² = var μ + var τ + 2 cov.
    matrix = fit.covariance.matrix
    np.testing.assert_allclose(errors, [2 * tau * tau_se, np.sqrt(matrix.sum())], rtol=1e-10)


def test_a_deterministic_of_a_latent_variable_is_refused(random_intercepts):
    model, fit = random_intercepts
    with pytest.raises(ArgumentError, match="u_shifted depends on the latent variables u"):
        derived_rows(fit, model, "likelihood", "u_shifted")
