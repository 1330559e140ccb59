"""A likelihood term that is not elementwise (a CustomDist whose logp sums over the data):
the functions that need per-observation scores refuse it, the others stay right."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher.errors import UnsupportedModelError

Y = np.random.default_rng(15).normal(1.0, 1.8, size=150)


def summed_normal():
    def logp(value, mu, sigma):
        return pm.logp(pm.Normal.dist(mu, sigma), value).sum()

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.CustomDist("y", mu, sigma, logp=logp, observed=Y)
    return model


MODEL = summed_normal()
MLE = {"mu": Y.mean(), "sigma": Y.std()}


@pytest.mark.parametrize(
    "call",
    [
        lambda: pmfisher.scores(MLE, model=MODEL),
        lambda: pmfisher.empirical_fisher(MLE, model=MODEL, space="unconstrained"),
        lambda: pmfisher.sandwich_covariance(model=MODEL),
        lambda: pmfisher.information_matrix_test(MLE, model=MODEL),
    ],
    ids=["scores", "empirical_fisher", "sandwich_covariance", "information_matrix_test"],
)
def test_per_observation_functions_refuse_it(call):
    with pytest.raises(UnsupportedModelError, match=r"observed variable\(s\) y .*not elementwise"):
        call()


def test_mode_and_observed_information_stay_right():
    mode = pmfisher.find_mode(model=MODEL, terms="likelihood", space="constrained")
    assert mode.converged
    np.testing.assert_allclose(mode.x, [Y.mean(), Y.std()], rtol=1e-6)
    information = pmfisher.observed_information(MLE, model=MODEL)
    n, sigma = Y.size, Y.std()
    np.testing.assert_allclose(
        information.values, np.diag([n / sigma**2, 2 * n / sigma**2]), rtol=1e-8, atol=1e-8
    )
