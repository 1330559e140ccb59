"""Correlated random effects written as ``pm.MvNormal`` integrate out to the same Laplace
marginal as lme4's spherical form (``u ~ N(0, I)``, ``b = u Λᵀ``), and both to the exact
Gaussian marginal likelihood: the conditional is Gaussian, so the Laplace marginal is exact."""

import numpy as np
import pymc as pm
import pytest
from scipy.stats import multivariate_normal

from pmfisher.fitting.laplace_marginal import laplace_marginal

SUBJECTS, DAYS = 4, 5
RNG = np.random.default_rng(17)
SUBJECT = np.repeat(np.arange(SUBJECTS), DAYS)
DAY = np.tile(np.arange(DAYS, dtype="float64"), SUBJECTS)
REACTION = (
    250.0
    + 10.0 * DAY
    + RNG.normal(0.0, [20.0, 5.0], size=(SUBJECTS, 2))[SUBJECT]
    @ [
        1.0,
        0.0,
    ]
    + 25.0 * RNG.standard_normal(SUBJECT.size)
)
# β, the LKJ factor packed (log of its diagonal), log σ: unconstrained φ.
PHI = np.array([251.0, 10.5, np.log(24.0), 0.4, np.log(6.0), np.log(25.0)])


def sleep_model(form: str) -> pm.Model:
    coords = {"subject": np.arange(SUBJECTS), "effect": ["intercept", "slope"]}
    with pm.Model(coords=coords) as model:
        day = pm.Data("day", DAY, shape=DAY.shape)
        beta = pm.Normal("beta", mu=[250.0, 10.0], sigma=100.0, dims="effect")
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=2, eta=1.0, sd_dist=pm.HalfNormal.dist(50.0, shape=2), compute_corr=True
        )
        if form == "mvnormal":
            b = pm.MvNormal("b", mu=np.zeros(2), chol=chol, dims=("subject", "effect"))
        else:
            u = pm.Normal("u", 0.0, 1.0, dims=("subject", "effect"))
            b = pm.Deterministic("b", u @ chol.T, dims=("subject", "effect"))
        sigma = pm.HalfNormal("sigma", 50.0)
        mean = beta[0] + b[SUBJECT, 0] + (beta[1] + b[SUBJECT, 1]) * day
        pm.Normal("reaction", mean, sigma, observed=REACTION)
    return model


def exact_log_likelihood(phi: np.ndarray) -> float:
    """log p(y | β, Λ, σ) = log N(y; Xβ, Z Λ Λᵀ Zᵀ + σ² I), in closed form."""
    factor = np.array([[np.exp(phi[2]), 0.0], [phi[3], np.exp(phi[4])]])
    design = np.zeros((SUBJECT.size, 2 * SUBJECTS))
    design[np.arange(SUBJECT.size), 2 * SUBJECT] = 1.0
    design[np.arange(SUBJECT.size), 2 * SUBJECT + 1] = DAY
    covariance = design @ np.kron(np.eye(SUBJECTS), factor @ factor.T) @ design.T
    covariance += np.exp(phi[5]) ** 2 * np.eye(SUBJECT.size)
    return multivariate_normal(phi[0] + phi[1] * DAY, covariance).logpdf(REACTION)


@pytest.mark.parametrize("structure", ["dense", "sparse"])
def test_mvnormal_effects_integrate_to_the_spherical_forms_marginal_and_the_exact_one(structure):
    values = {}
    for form, latent in (("mvnormal", "b"), ("spherical", "u")):
        marginal = laplace_marginal(
            sleep_model(form),
            latent,
            space="unconstrained",
            terms="likelihood",
            structure=structure,
        )
        assert marginal.labels[:2] == ("beta[intercept]", "beta[slope]")
        assert marginal.size == PHI.size
        values[form] = marginal.value(PHI)
    exact = exact_log_likelihood(PHI)
    np.testing.assert_allclose(values["mvnormal"], values["spherical"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(values["mvnormal"], exact, rtol=0, atol=1e-8)
