"""gauss_newton: the loss Hessian split into its Gauss–Newton (Fisher) and residual parts."""

import numpy as np
import pymc as pm
import pytest

from pmfisher.errors import UnsupportedModelError
from pmfisher.geometry.gauss_newton import GaussNewtonSplit, gauss_newton
from pmfisher.information.observed import observed_information
from tests.closed_forms import LOGIT_X, logistic, model_for

SIGMA = 0.2
X = np.linspace(0.0, 4.0, 25)
Y = 1.5 * (1 - np.exp(-0.9 * X)) + np.random.default_rng(4).normal(scale=SIGMA, size=X.size)


def saturation():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 10.0)
        b = pm.HalfNormal("b", 5.0)
        pm.Normal("y", a * (1 - pm.math.exp(-b * X)), SIGMA, observed=Y)
    return model


def closed_form(a, b):
    """JᵀJ/σ² and −Σ rᵢ∇²fᵢ/σ² for f = a(1 − e^{−bx})."""
    decay = np.exp(-b * X)
    jacobian = np.column_stack([1 - decay, a * X * decay])
    residuals = Y - a * (1 - decay)
    second = np.array([[np.zeros_like(X), X * decay], [X * decay, -a * X**2 * decay]])
    return jacobian.T @ jacobian / SIGMA**2, -(second * residuals).sum(axis=-1) / SIGMA**2


@pytest.mark.parametrize("point", [{"a": 1.5, "b": 0.9}, {"a": 0.5, "b": 0.2}])
def test_nonlinear_regression_split_matches_the_closed_forms(point):
    split = gauss_newton(point, model=model_for(saturation))
    assert isinstance(split, GaussNewtonSplit)
    expected_gn, expected_residual = closed_form(point["a"], point["b"])
    scale = np.abs(split.hessian.values).max()
    np.testing.assert_allclose(split.gauss_newton.values, expected_gn, rtol=1e-8)
    np.testing.assert_allclose(split.residual.values, expected_residual, atol=1e-8 * scale)
    np.testing.assert_allclose(
        split.hessian.values, split.gauss_newton.values + split.residual.values, atol=1e-8 * scale
    )
    np.testing.assert_allclose(
        split.hessian.values,
        observed_information(point, model=model_for(saturation)).values,
        rtol=1e-12,
    )
    gap = np.linalg.norm(expected_residual) / np.linalg.norm(expected_gn + expected_residual)
    assert split.relative_gap == pytest.approx(gap, rel=1e-6)


def test_gap_collapses_near_the_fit():
    near = gauss_newton({"a": 1.5, "b": 0.9}, model=model_for(saturation)).relative_gap
    far = gauss_newton({"a": 0.5, "b": 0.2}, model=model_for(saturation)).relative_gap
    assert near < far / 10


def test_logistic_regression_has_no_residual():
    beta = np.array([1.2, -0.4, 0.7])
    split = gauss_newton({"beta": beta}, model=model_for(logistic))
    p = 1 / (1 + np.exp(-LOGIT_X @ beta))
    weighted_gram = LOGIT_X.T @ (LOGIT_X * (p * (1 - p))[:, None])
    np.testing.assert_allclose(split.gauss_newton.values, weighted_gram, rtol=1e-10)
    np.testing.assert_allclose(split.hessian.values, weighted_gram, rtol=1e-10)
    assert split.relative_gap < 1e-12
    assert list(split.residual.param_i.values) == ["beta[x1]", "beta[x2]", "beta[x3]"]


def test_distribution_without_closed_form_is_named():
    with pm.Model() as model:
        alpha = pm.HalfNormal("alpha", 2.0)
        pm.Weibull("waits", alpha=alpha, beta=1.0, observed=[0.5, 1.2, 2.0])
    with pytest.raises(UnsupportedModelError, match="waits"):
        gauss_newton({"alpha": 1.1}, model=model)
