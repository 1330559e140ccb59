"""fisher_information: exact closed forms, and Monte Carlo within its own standard errors."""

import warnings

import numpy as np
import pymc as pm
import pytest

from pmfisher.errors import PMFisherError, UnsupportedModelError
from pmfisher.information.fisher import FisherInformation, fisher_information
from tests.closed_forms import (
    LOGIT_X,
    NORMAL_Y,
    _logit_information,
    logistic,
    model_for,
    normal,
)

RNG = np.random.default_rng(31)
POISSON_50 = RNG.poisson(3.0, size=50)
REG_X = np.linspace(-1.0, 1.0, 40)


def poisson_50():
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=POISSON_50)
    return model


def assert_within_mcse(estimate, mcse, expected, *, k=4.0):
    """|estimate − expected| ≤ k·MCSE per entry (plus rounding for entries that are exact)."""
    estimate, mcse, expected = (np.asarray(a, dtype=float) for a in (estimate, mcse, expected))
    allowed = k * mcse + 1e-9 * np.abs(expected).max()
    assert np.all(np.abs(estimate - expected) <= allowed), (estimate, expected, mcse)


# -- Poisson at λ = 3, n = 50: I = n / λ -------------------------------------------------------


@pytest.fixture(scope="module")
def poisson_mc():
    model = model_for(poisson_50)
    return {
        replicates: fisher_information(
            {"lam": 3.0}, model=model, method="monte_carlo", replicates=replicates, random_seed=7
        )
        for replicates in (1000, 4000)
    }


def test_poisson_both_estimators_within_four_mcse(poisson_mc):
    info = poisson_mc[1000]
    assert isinstance(info, FisherInformation)
    assert info.method == "monte_carlo"
    assert info.replicates == 1000
    for name in ("score_covariance", "negative_hessian"):
        assert_within_mcse(getattr(info, name), info.mcse[name], [[50 / 3.0]])
    assert info.max_standardized_difference < 4


def test_poisson_mcse_shrinks_like_inverse_sqrt_draws(poisson_mc):
    for name in ("score_covariance", "negative_hessian"):
        ratio = float(poisson_mc[4000].mcse[name].squeeze() / poisson_mc[1000].mcse[name].squeeze())
        assert ratio == pytest.approx(0.5, rel=0.15)


def test_poisson_exact():
    info = fisher_information({"lam": 3.0}, model=model_for(poisson_50), method="exact")
    np.testing.assert_allclose(info.matrix.values, [[50 / 3.0]], rtol=1e-12)
    assert info.method == "exact"
    assert float(info.mcse["matrix"].squeeze()) == 0.0


def test_same_seed_same_numbers(poisson_mc):
    again = fisher_information(
        {"lam": 3.0}, model=model_for(poisson_50), method="monte_carlo", random_seed=7
    )
    np.testing.assert_array_equal(again.score_covariance, poisson_mc[1000].score_covariance)


# -- Normal (μ, σ) away from the MLE: diag(n/σ², 2n/σ²), and diag(n/σ², 2n) in log σ ----------

MU, SIGMA = 0.2, 1.3
N_NORMAL = NORMAL_Y.size
NORMAL_CASES = {
    "constrained": np.diag([N_NORMAL / SIGMA**2, 2 * N_NORMAL / SIGMA**2]),
    "unconstrained": np.diag([N_NORMAL / SIGMA**2, 2.0 * N_NORMAL]),
}


@pytest.mark.parametrize("space", list(NORMAL_CASES))
def test_normal_exact(space):
    info = fisher_information(
        {"mu": MU, "sigma": SIGMA}, model=model_for(normal), space=space, method="auto"
    )
    assert info.method == "exact"
    np.testing.assert_allclose(info.matrix.values, NORMAL_CASES[space], rtol=1e-12, atol=1e-12)
    labels = ["mu", "sigma" if space == "constrained" else "sigma_log__"]
    assert list(info.matrix.param_i.values) == labels
    assert info.matrix.attrs["space"] == space


@pytest.mark.parametrize("space", list(NORMAL_CASES))
def test_normal_monte_carlo(space):
    info = fisher_information(
        {"mu": MU, "sigma": SIGMA},
        model=model_for(normal),
        space=space,
        method="monte_carlo",
        replicates=1000,
        random_seed=3,
    )
    for name in ("score_covariance", "negative_hessian"):
        assert_within_mcse(getattr(info, name), info.mcse[name], NORMAL_CASES[space])
    assert_within_mcse(info.matrix, info.mcse["matrix"], NORMAL_CASES[space])


def test_logistic_regression_exact_is_xtwx():
    beta = np.array([0.3, -0.8, 0.1])
    info = fisher_information({"beta": beta}, model=model_for(logistic), method="exact")
    np.testing.assert_allclose(info.matrix.values, _logit_information(beta), rtol=1e-12)
    assert LOGIT_X.shape[1] == info.matrix.shape[0]


# -- every distribution of the exact table against Monte Carlo on a regression -----------------


def _regression(build):
    """Observation i's distribution parameters depend on (a, b) through a + b·xᵢ and on s;
    the observed values are placeholders in the support (they do not enter I(θ))."""
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0)
        b = pm.Normal("b", 0.0, 1.0)
        s = pm.Gamma("s", 2.0, 1.0)
        build(a + b * REG_X, s)
    return model


EXACT_TABLE = {
    "Normal": lambda eta, s: pm.Normal("y", eta, s, observed=REG_X),
    "StudentT": lambda eta, s: pm.StudentT(
        "y", nu=2 + 3 * s, mu=eta, sigma=pm.math.exp(eta / 2), observed=REG_X
    ),
    "Bernoulli": lambda eta, s: pm.Bernoulli("y", logit_p=eta, observed=REG_X > 0),
    "Binomial": lambda eta, s: pm.Binomial("y", 7, logit_p=eta, observed=np.full(40, 3)),
    "Poisson": lambda eta, s: pm.Poisson("y", pm.math.exp(eta), observed=np.full(40, 2)),
    "NegativeBinomial": lambda eta, s: pm.NegativeBinomial(
        "y", mu=pm.math.exp(1 + eta), alpha=s, observed=np.full(40, 2)
    ),
    "Exponential": lambda eta, s: pm.Exponential("y", pm.math.exp(eta), observed=np.ones(40)),
    "Gamma": lambda eta, s: pm.Gamma("y", alpha=s, beta=pm.math.exp(eta), observed=np.ones(40)),
    "Beta": lambda eta, s: pm.Beta("y", pm.math.exp(eta), s, observed=np.full(40, 0.5)),
    "LogNormal": lambda eta, s: pm.LogNormal("y", eta, s, observed=np.ones(40)),
}
TABLE_POINT = {"a": 0.3, "b": -0.6, "s": 1.7}


@pytest.mark.parametrize("distribution", list(EXACT_TABLE))
def test_exact_table_matches_monte_carlo(distribution):
    model = _regression_model(distribution)
    exact = fisher_information(TABLE_POINT, model=model, method="exact")
    mc = fisher_information(
        TABLE_POINT, model=model, method="monte_carlo", replicates=1000, random_seed=11
    )
    for name in ("score_covariance", "negative_hessian"):
        assert_within_mcse(getattr(mc, name), mc.mcse[name], exact.matrix)


_MODELS = {}


def _regression_model(distribution):
    """One model per distribution for the session, so its compiled functions are reused."""
    if distribution not in _MODELS:
        _MODELS[distribution] = _regression(EXACT_TABLE[distribution])
    return _MODELS[distribution]


# -- bad input ---------------------------------------------------------------------------------


def test_monte_carlo_without_forward_sampler_names_the_variable():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.CustomDist("y_custom", mu, logp=lambda value, mu: -((value - mu) ** 2), observed=[0.1])
    with pytest.raises(UnsupportedModelError, match="y_custom"):
        fisher_information({"mu": 0.0}, model=model, method="monte_carlo")
    with pytest.raises(UnsupportedModelError, match=r"y_custom.*CustomDist"):
        fisher_information({"mu": 0.0}, model=model, method="auto")


def test_potential_likelihood_names_the_potential():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Potential("loglik", -((mu - 1.0) ** 2))
    with pytest.raises(UnsupportedModelError, match="loglik"):
        fisher_information({"mu": 0.0}, model=model, method="monte_carlo")


def test_exact_on_unsupported_distribution_names_it_and_suggests_monte_carlo():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Laplace("y_laplace", mu, 1.0, observed=[0.1, -0.3, 0.5])
    with pytest.raises(UnsupportedModelError, match=r"y_laplace.*Laplace.*method='monte_carlo'"):
        fisher_information({"mu": 0.0}, model=model, method="exact")
    with pytest.warns(UserWarning, match="disagree"):
        auto = fisher_information({"mu": 0.0}, model=model, replicates=500, random_seed=1)
    assert auto.method == "monte_carlo"
    # Laplace(μ, b): I = n / b² from the score; its log-density has no curvature a.e.
    assert_within_mcse(auto.score_covariance, auto.mcse["score_covariance"], [[3.0]])
    assert float(auto.negative_hessian.squeeze()) == 0.0
    assert auto.matrix.attrs["estimator"] == "score_covariance"


def test_dependent_observations_are_not_exact():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        first = pm.Normal("first", mu, 1.0, observed=0.3)
        pm.Normal("second", first, 1.0, observed=0.1)
    with pytest.raises(UnsupportedModelError, match="second depends on the observed first"):
        fisher_information({"mu": 0.0}, model=model, method="exact")
    info = fisher_information({"mu": 0.0}, model=model, replicates=2000, random_seed=2)
    assert info.method == "monte_carlo"
    assert_within_mcse(info.score_covariance, info.mcse["score_covariance"], [[1.0]])


def test_invalid_options():
    with pytest.raises(PMFisherError, match=r"method='bogus'.*'exact'"):
        fisher_information({"lam": 3.0}, model=model_for(poisson_50), method="bogus")
    with pytest.raises(PMFisherError, match="at least 2"):
        fisher_information(
            {"lam": 3.0}, model=model_for(poisson_50), method="monte_carlo", replicates=1
        )


def test_exact_per_data_set_equality_is_not_reported_as_disagreement():
    # One Bernoulli observation: s² = −∂²ℓ for every data set (y ∈ {0, 1}), so the paired
    # difference of the two estimators is rounding only.
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Bernoulli("y", p=p, observed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = fisher_information(
            {"p": 0.3}, model=model, method="monte_carlo", replicates=4000, random_seed=1
        )
    assert info.max_standardized_difference < 4
    np.testing.assert_allclose(
        info.score_covariance.values, info.negative_hessian.values, rtol=1e-12
    )


# -- estimator choice and chunking (deliberate errors these tests catch) -----------------------

LONG_N, LONG_SIGMA, LONG_MU = 2**18, 2.0, 0.5


def long_normal_mean():
    """σ known: the Hessian −n/σ² does not depend on the data."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, LONG_SIGMA, observed=np.zeros(LONG_N))
    return model


def test_monte_carlo_uses_every_draw_of_uneven_chunks_and_the_exact_estimator():
    """103 replicates run in at least 20 chunks (so that the progress bar moves) of at most 64
    data sets of 2¹⁸ observations: 17 chunks of 6 and a last one of 1, each with its own child
    seed. The score covariance is recomputed from the same data sets by hand
    (sᵣ = Σ(y − μ)/σ²); the negative Hessian, n/σ² for every data set, has no Monte Carlo
    error and must be the estimator chosen."""
    from pmfisher._core.data.simulation import simulator

    model = model_for(long_normal_mean)
    info = fisher_information(
        {"mu": LONG_MU}, model=model, method="monte_carlo", replicates=103, random_seed=5
    )
    sim = simulator(model)
    sizes = (6,) * 17 + (1,)
    scores = []
    for seed, size in zip(np.random.SeedSequence(5).spawn(len(sizes)), sizes, strict=True):
        y = sim.draw(np.full((size, 1), LONG_MU), seed)["y"]
        scores.append((y - LONG_MU).sum(axis=1) / LONG_SIGMA**2)
    scores = np.concatenate(scores)
    np.testing.assert_allclose(info.score_covariance.values, [[np.mean(scores**2)]], rtol=1e-9)
    exact = LONG_N / LONG_SIGMA**2
    np.testing.assert_allclose(info.negative_hessian.values, [[exact]], rtol=1e-12)
    assert info.matrix.attrs["estimator"] == "negative_hessian"
    np.testing.assert_allclose(info.matrix.values, [[exact]], rtol=1e-12)
    assert float(info.mcse["matrix"].squeeze()) == 0.0
