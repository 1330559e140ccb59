"""natural_gradient: Fisher scoring steps, and their invariance to the coordinates."""

import numpy as np
import pymc as pm
import pytest

from pmfisher.geometry.natural_gradient import natural_gradient
from tests.closed_forms import (
    BERNOULLI_Y,
    NORMAL_Y,
    POISSON_Y,
    REG_X,
    REG_Y,
    bernoulli,
    model_for,
    normal,
    poisson,
    regression_deterministic,
)


def bernoulli_logit():
    with pm.Model() as model:
        eta = pm.Normal("eta", 0.0, 3.0)
        pm.Bernoulli("y", logit_p=eta, observed=BERNOULLI_Y)
    return model


def test_poisson_scoring_jumps_to_the_mle():
    step = natural_gradient({"lam": 1.7}, model=model_for(poisson))
    assert float(step.values[0]) == pytest.approx(POISSON_Y.mean() - 1.7, rel=1e-12)
    assert step.dims == ("param",)
    assert step.attrs == {"space": "constrained", "method": "exact"}


@pytest.mark.parametrize("p", [0.1, 0.45, 0.9])
def test_bernoulli_steps_agree_across_coordinates(p):
    in_p = natural_gradient({"p": p}, model=model_for(bernoulli)).values[0]
    in_eta = natural_gradient({"p": p}, model=model_for(bernoulli), space="unconstrained")
    other_model = natural_gradient(
        {"eta": np.log(p / (1 - p))}, model=model_for(bernoulli_logit)
    ).values[0]
    jacobian = p * (1 - p)  # dp/dη
    assert in_p == pytest.approx(BERNOULLI_Y.mean() - p, rel=1e-10)
    assert jacobian * in_eta.values[0] == pytest.approx(in_p, rel=1e-8)
    assert jacobian * other_model == pytest.approx(in_p, rel=1e-8)


def test_normal_steps_agree_across_coordinates():
    point = {"mu": 0.2, "sigma": 1.3}
    in_sigma = natural_gradient(point, model=model_for(normal)).values
    in_log_sigma = natural_gradient(point, model=model_for(normal), space="unconstrained").values
    np.testing.assert_allclose(np.diag([1.0, 1.3]) @ in_log_sigma, in_sigma, rtol=1e-8)
    # Closed form: I⁻¹∇ℓ = (ȳ − μ, (mean (y − μ)² − σ²) / (2σ)).
    residual = NORMAL_Y - 0.2
    expected = [residual.mean(), ((residual**2).mean() - 1.3**2) / (2 * 1.3)]
    np.testing.assert_allclose(in_sigma, expected, rtol=1e-10)


def test_gaussian_regression_step_is_the_least_squares_solution():
    """With known σ a natural-gradient step is a Gauss–Newton step: exact for a linear model."""
    start = np.array([0.0, 0.0])
    step = natural_gradient(
        {"a": start[0], "b": start[1]}, model=model_for(regression_deterministic)
    )
    design = np.column_stack([np.ones_like(REG_X), REG_X])
    least_squares = np.linalg.lstsq(design, REG_Y, rcond=None)[0]
    np.testing.assert_allclose(start + step.values, least_squares, rtol=1e-10)
