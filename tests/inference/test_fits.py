"""inference/fits.py: the estimate and its covariance, against closed forms — a Poisson rate
(observed, expected and sandwich information; likelihood and posterior), a normal model's
scale at the edge of its support, and a Gaussian random-intercept model whose Laplace
marginal is exact (every number of ``marginal_fit`` in closed form)."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher.errors import ArgumentError
from pmfisher.inference.fits import Fit, joint_fit, marginal_fit

COUNTS = np.array([2, 4, 3, 5, 1, 0, 3])
MEASURES = np.array([1.2, -0.4, 2.5, 0.3, 1.9, -1.1])
GROUPS = ["a", "b", "c", "d", "e", "f"]


@pytest.fixture(scope="module")
def poisson():
    with pm.Model(coords={"obs": np.arange(COUNTS.size)}) as model:
        counts = pm.Data("counts", COUNTS, dims="obs")
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=counts, dims="obs")
    return model


def _poisson_truths():
    """(terms, information) → (estimate, variance, log-density) by hand."""
    n, total = COUNTS.size, COUNTS.sum()
    rate = COUNTS.mean()
    likelihood = stats.poisson.logpmf(COUNTS, rate).sum()
    # Posterior with an Exponential(1) prior: ∝ λ^Σy e^{-(n+1)λ}, mode Σy/(n+1), and
    # −∂²/∂λ² log p = Σy/λ².
    mode = total / (n + 1)
    posterior = stats.poisson.logpmf(COUNTS, mode).sum() + stats.expon.logpdf(mode)
    return {
        ("likelihood", "observed"): (rate, rate / n, likelihood),
        ("likelihood", "expected"): (rate, rate / n, likelihood),  # I(λ) = n/λ = J(λ̂)
        # HC0: J⁻¹ K J⁻¹ with K = Σ (y/λ̂ − 1)², J = n/λ̂: Σ (y − λ̂)² / n².
        ("likelihood", "sandwich"): (rate, ((COUNTS - rate) ** 2).sum() / n**2, likelihood),
        ("posterior", "observed"): (mode, mode**2 / total, posterior),
    }


@pytest.mark.parametrize(("terms", "information"), list(_poisson_truths()))
def test_a_poisson_rate_and_its_variance(poisson, terms, information):
    estimate, variance, logp = _poisson_truths()[terms, information]
    fit = joint_fit(
        None, poisson, terms=terms, information=information, structure="auto", random_seed=1
    )
    assert isinstance(fit, Fit)
    assert fit.labels == ("lam",)
    np.testing.assert_allclose(fit.estimates, [estimate], rtol=1e-9)
    np.testing.assert_allclose(fit.covariance.matrix, [[variance]], rtol=1e-8)
    assert fit.logp == pytest.approx(logp, rel=1e-10)
    assert fit.converged
    assert fit.roles == ("fixed effect",)
    assert fit.at_boundary.tolist() == [False]
    assert fit.point["lam"] == pytest.approx(estimate, rel=1e-9)
    assert fit.marginal is None
    assert fit.conditional_modes is None


def test_a_point_given_is_used_as_it_is(poisson):
    fit = joint_fit(
        {"lam": 2.0},
        poisson,
        terms="likelihood",
        information="observed",
        structure="auto",
        random_seed=None,
    )
    # J(λ) = Σy/λ² at any λ: the covariance is 4/Σy, not the MLE's λ̂/n.
    np.testing.assert_allclose(fit.covariance.matrix, [[4.0 / COUNTS.sum()]], rtol=1e-12)
    assert (fit.converged, fit.message) == (True, "")
    assert fit.logp == pytest.approx(stats.poisson.logpmf(COUNTS, 2.0).sum(), rel=1e-12)


def test_the_expected_and_sandwich_informations_are_of_the_likelihood(poisson):
    with pytest.raises(ArgumentError, match="information='expected' is a property of the like"):
        joint_fit(
            None,
            poisson,
            terms="posterior",
            information="expected",
            structure="auto",
            random_seed=1,
        )


@pytest.fixture(scope="module")
def normal():
    y = np.array([0.3, 1.1, -0.4, 0.8, 0.2])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=y)
    return model, y


@pytest.mark.parametrize(
    ("log_sigma", "at_boundary"),
    [(np.log(0.5), [False, False]), (-14.0, [False, False]), (-16.0, [False, True])],
    ids=["interior", "small", "beyond-the-edge"],
)
def test_a_scale_that_ran_off_to_zero_is_at_the_boundary(normal, log_sigma, at_boundary):
    """A given point: ``log σ`` beyond −15 is at the edge of the support (as find_mode says)."""
    model, y = normal
    point = {"mu": y.mean(), "sigma": np.exp(log_sigma)}
    fit = joint_fit(
        point, model, terms="likelihood", information="observed", structure="dense", random_seed=1
    )
    assert fit.at_boundary.tolist() == at_boundary


def test_the_observed_covariance_of_a_normal_sample(normal):
    """At (ȳ, σ): J = diag(n/σ², −n/σ² + 3 S/σ⁴) with S = Σ(y − ȳ)²."""
    model, y = normal
    sigma = 0.5
    fit = joint_fit(
        {"mu": y.mean(), "sigma": sigma},
        model,
        terms="likelihood",
        information="observed",
        structure="dense",
        random_seed=1,
    )
    spread = ((y - y.mean()) ** 2).sum()
    information = np.diag([y.size / sigma**2, -y.size / sigma**2 + 3 * spread / sigma**4])
    np.testing.assert_allclose(fit.covariance.matrix, np.linalg.inv(information), rtol=1e-10)
    np.testing.assert_allclose(fit.estimates, [y.mean(), sigma], rtol=1e-15)


@pytest.fixture(scope="module")
def random_intercepts():
    """y_j ~ N(u_j, 1), u_j ~ N(μ, τ²): the marginal is y_j ~ N(μ, 1 + τ²), and the Laplace
    approximation of a Gaussian is exact."""
    with pm.Model(coords={"group": GROUPS}) as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        tau = pm.HalfNormal("tau", 5.0)
        u = pm.Normal("u", mu, tau, dims="group")
        pm.Normal("y", u, 1.0, observed=MEASURES, dims="group")
    fit = marginal_fit(
        None, model, terms="likelihood", latent=["u"], information="observed", structure="auto"
    )
    return model, fit


def test_the_laplace_marginal_fit_is_the_closed_form(random_intercepts):
    _, fit = random_intercepts
    groups = MEASURES.size
    mean = MEASURES.mean()
    total = np.mean((MEASURES - mean) ** 2)  # v̂ = 1 + τ̂²
    tau = np.sqrt(total - 1.0)
    assert fit.labels == ("mu", "tau")
    np.testing.assert_allclose(fit.estimates, [mean, tau], rtol=1e-6)
    # var(μ̂) = v/J; I_vv = J/(2v²) and dτ/dv = 1/(2τ): var(τ̂) = v²/(2Jτ²); no cross term.
    expected = np.diag([total / groups, total**2 / (2 * groups * tau**2)])
    np.testing.assert_allclose(fit.covariance.matrix, expected, rtol=1e-5, atol=1e-10)
    marginal = stats.norm.logpdf(MEASURES, mean, np.sqrt(total)).sum()
    assert fit.logp == pytest.approx(marginal, rel=1e-9)
    assert fit.roles == ("fixed effect", "variance component")
    assert fit.at_boundary.tolist() == [False, False]
    assert fit.marginal is not None


def test_the_conditional_modes_shrink_towards_the_mean(random_intercepts):
    _, fit = random_intercepts
    mean = MEASURES.mean()
    precision = 1.0 / (np.mean((MEASURES - mean) ** 2) - 1.0)  # 1/τ̂²
    effects = fit.conditional_modes
    assert effects["effect"].values.tolist() == [f"u[{group}]" for group in GROUPS]
    np.testing.assert_allclose(
        effects["mode"], (MEASURES + precision * mean) / (1 + precision), rtol=1e-6
    )
    np.testing.assert_allclose(effects["se"], np.full(6, np.sqrt(1 / (1 + precision))), rtol=1e-6)
    assert set(fit.point) == {"mu", "tau", "u"}
    np.testing.assert_allclose(fit.point["u"], effects["mode"], rtol=1e-10)


@pytest.mark.parametrize("information", ["expected", "sandwich"])
def test_a_laplace_marginal_has_only_its_observed_information(random_intercepts, information):
    model, _ = random_intercepts
    with pytest.raises(ArgumentError, match=f"information='{information}' with latent"):
        marginal_fit(
            None,
            model,
            terms="likelihood",
            latent=["u"],
            information=information,
            structure="auto",
        )
