"""White's information-matrix test (OPG form): closed form, power and size."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.simulation import simulate_data
from pmfisher.fitting.batch_fit import fit_batch
from pmfisher.information.misspecification import (
    InformationMatrixTest,
    im_statistics,
    information_matrix_test,
)

RNG = np.random.default_rng(2027)
N = 300
POISSON_Y = RNG.poisson(3.0, size=N)
OVERDISPERSED_Y = RNG.negative_binomial(2, 2 / (2 + 3.0), size=N)  # mean 3, variance 7.5


def poisson_on(y):
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=y)
    return model


@pytest.fixture(scope="module")
def correct_model():
    return poisson_on(POISSON_Y)


def _by_hand(y):
    """The regression of 1 on (sᵢ, dᵢ) for a Poisson with λ̂ = ȳ."""
    lam = y.mean()
    score = y / lam - 1
    indicator = ((y - lam) ** 2 - y) / lam**2
    design = np.column_stack([score, indicator])
    ones = np.ones(len(y))
    coefficients, *_ = np.linalg.lstsq(design, ones, rcond=None)
    return ones @ design @ coefficients


def test_statistic_matches_the_artificial_regression(correct_model):
    result = information_matrix_test(model=correct_model)
    assert isinstance(result, InformationMatrixTest)
    np.testing.assert_allclose(result.statistic, _by_hand(POISSON_Y), rtol=1e-8)
    assert result.degrees_of_freedom == 1
    assert result.p_value == pytest.approx(stats.chi2.sf(result.statistic, 1), rel=1e-12)
    assert result.n_observations == N


def test_does_not_reject_a_correct_model(correct_model):
    assert information_matrix_test(model=correct_model).p_value > 0.05


def test_rejects_overdispersed_counts_fitted_as_poisson():
    result = information_matrix_test(model=poisson_on(OVERDISPERSED_Y))
    assert result.p_value < 1e-4
    # more score variance than curvature
    assert float(result.discrepancy.squeeze()) > 0


def test_size_by_simulation(correct_model):
    """Rejection rate at the 5% level over data sets simulated from the fitted model, within
    3 binomial standard errors of 5% (the OPG form over-rejects slightly at this n)."""
    replicates = 400
    data = simulate_data(correct_model, {"lam": 3.0}, replicates, random_seed=99)
    fit = fit_batch(correct_model, data, {"lam": 3.0})
    assert fit.converged.all()
    like = data_likelihood(correct_model, space="constrained")
    statistic, df, _ = im_statistics(like, fit.constrained, data)
    assert np.all(df == 1)
    rate = np.mean(stats.chi2.sf(statistic, df) < 0.05)
    assert abs(rate - 0.05) < 3 * np.sqrt(0.05 * 0.95 / replicates)


def test_invariant_to_reparameterization():
    """The same model written in log λ gives the same statistic."""
    with pm.Model() as log_model:
        log_lam = pm.Normal("log_lam", 0.0, 5.0)
        pm.Poisson("y", pm.math.exp(log_lam), observed=OVERDISPERSED_Y)
    direct = information_matrix_test(model=poisson_on(OVERDISPERSED_Y))
    reparameterized = information_matrix_test(model=log_model)
    np.testing.assert_allclose(reparameterized.statistic, direct.statistic, rtol=1e-6)


CENSORED_N = 300


def censored_normal(y):
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Censored("y", pm.Normal.dist(mu, sigma), lower=-1.0, upper=2.5, observed=y)
    return model


def test_censored_normal_drops_the_exactly_collinear_indicator():
    """For a location–scale likelihood, censored or not, d_μμ = s_σ / σ exactly; the log-CDF's
    rounding leaves a singular value of about 4e-9 that must not count (it gave p ≈ 1e-64)."""
    y = np.clip(np.random.default_rng(3).normal(1.0, 2.0, size=CENSORED_N), -1.0, 2.5)
    result = information_matrix_test(model=censored_normal(y))
    assert result.degrees_of_freedom == 2
    assert result.p_value > 0.05


def test_censored_normal_p_values_are_uniform():
    """Over data sets simulated from a correctly specified censored normal model, the
    p-values are uniform (a KS test) and every design has rank 2 + 3 − 1."""
    model = censored_normal(np.zeros(CENSORED_N))
    point = {"mu": 1.0, "sigma": 2.0}
    data = simulate_data(model, point, 300, random_seed=5)
    fit = fit_batch(model, data, point)
    assert fit.converged.all()
    statistic, df, _ = im_statistics(data_likelihood(model), fit.constrained, data)
    assert np.all(df == 2)
    p_values = stats.chi2.sf(statistic, df)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
