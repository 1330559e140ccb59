"""Count and binary regressions fitted by statsmodels and written as PyMC models, shared by
the score, sandwich and IM-test tests. Free variables are ordered like statsmodels'
parameters (coefficients, then NB2's alpha), so flat vectors line up."""

import functools

import numpy as np
import pymc as pm
import statsmodels.api as sm

RNG = np.random.default_rng(404)
N = 200
DESIGN = np.column_stack([np.ones(N), RNG.normal(size=(N, 2))])
COEF = np.array([0.5, 0.3, -0.2])
LOGIT_Y = RNG.binomial(1, 1 / (1 + np.exp(-DESIGN @ COEF)))
POISSON_Y = RNG.poisson(np.exp(DESIGN @ COEF))
NB_ALPHA = 0.5
NB_Y = RNG.negative_binomial(1 / NB_ALPHA, 1 / (1 + NB_ALPHA * np.exp(DESIGN @ COEF)))


def _coefficients():
    return pm.Normal("beta", 0.0, 5.0, shape=DESIGN.shape[1])


@functools.cache
def logit_model():
    with pm.Model() as model:
        beta = _coefficients()
        pm.Bernoulli("y", logit_p=pm.math.dot(DESIGN, beta), observed=LOGIT_Y)
    return model


@functools.cache
def poisson_model():
    with pm.Model() as model:
        beta = _coefficients()
        pm.Poisson("y", pm.math.exp(pm.math.dot(DESIGN, beta)), observed=POISSON_Y)
    return model


@functools.cache
def negative_binomial_model():
    with pm.Model() as model:
        beta = _coefficients()
        alpha = pm.HalfNormal("alpha", 5.0)
        # statsmodels' NB2 alpha is the dispersion, Var = μ + αμ²; PyMC's alpha is its inverse.
        pm.NegativeBinomial(
            "y", mu=pm.math.exp(pm.math.dot(DESIGN, beta)), alpha=1 / alpha, observed=NB_Y
        )
    return model


@functools.cache
def statsmodels_fit(name):
    """(statsmodels model, HC0 results) fitted to tight tolerance."""
    model = {
        "logit": lambda: sm.Logit(LOGIT_Y, DESIGN),
        "poisson": lambda: sm.Poisson(POISSON_Y, DESIGN),
        "negative_binomial": lambda: sm.NegativeBinomial(NB_Y, DESIGN, loglike_method="nb2"),
    }[name]()
    results = model.fit(disp=0, method="newton", cov_type="HC0", maxiter=200, tol=1e-12)
    return model, results


CASES = {
    "logit": logit_model,
    "poisson": poisson_model,
    "negative_binomial": negative_binomial_model,
}


def point_of(name, params):
    """statsmodels' flat parameters as a PyMC point."""
    point = {"beta": np.asarray(params[: DESIGN.shape[1]])}
    if name == "negative_binomial":
        point["alpha"] = float(params[-1])
    return point
