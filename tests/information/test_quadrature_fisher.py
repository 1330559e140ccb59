"""The quadrature estimator: equal to every closed form that exists, and to the Monte Carlo
estimator within its MCSE where none does."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher import UnsupportedModelError, fisher_information

X = np.linspace(-1.0, 1.0, 5)


@pytest.fixture(scope="module")
def closed_form_models():
    """Every observation has a closed form: quadrature must reproduce it."""
    with pm.Model() as counts:
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Poisson("y", pm.math.exp(a + b * X), observed=np.ones(5, dtype=int))
        pm.NegativeBinomial(
            "z", mu=pm.math.exp(a - b * X), alpha=3.0, observed=np.ones(5, dtype=int)
        )
        pm.Binomial("k", n=12, p=pm.math.sigmoid(a + b * X), observed=np.ones(5, dtype=int))
    with pm.Model() as continuous:
        a, s, shape = pm.Normal("a"), pm.HalfNormal("s"), pm.HalfNormal("shape")
        pm.Normal("y", a + X, s, observed=np.ones(5))
        pm.Gamma("g", alpha=shape, beta=pm.math.exp(a * X), observed=np.ones(5))
        pm.Beta("b", alpha=shape, beta=pm.math.exp(a * X), observed=np.full(5, 0.5))
    return [
        (counts, {"a": 0.3, "b": 0.8}, 1e-12),
        (continuous, {"a": 0.3, "s": 0.7, "shape": 2.5}, 1e-8),
    ]


def test_quadrature_equals_the_closed_forms(closed_form_models):
    for model, point, tolerance in closed_form_models:
        exact = fisher_information(point, model=model, method="exact").matrix.values
        quadrature = fisher_information(point, model=model, method="quadrature")
        assert quadrature.method == "quadrature"
        np.testing.assert_allclose(
            quadrature.matrix.values, exact, rtol=tolerance, atol=tolerance * np.abs(exact).max()
        )


def test_quadrature_agrees_with_monte_carlo_without_a_closed_form():
    """Zero-inflated Poisson (discrete, a mixture) and Weibull (continuous): no closed form
    in the table; Monte Carlo's two estimators within 4 MCSE of the quadrature."""
    with pm.Model() as model:
        a, b = pm.Normal("a"), pm.Normal("b")
        psi = pm.Beta("psi", 2.0, 2.0)
        pm.ZeroInflatedPoisson(
            "y", psi=psi, mu=pm.math.exp(a + b * X), observed=np.ones(5, dtype=int)
        )
        pm.Weibull("w", alpha=2.0, beta=pm.math.exp(a - b * X), observed=np.ones(5))
    point = {"a": 0.3, "b": 0.8, "psi": 0.6}
    with pytest.raises(UnsupportedModelError):
        fisher_information(point, model=model, method="exact")
    quadrature = fisher_information(point, model=model, method="quadrature").matrix.values
    mc = fisher_information(
        point, model=model, method="monte_carlo", replicates=4000, random_seed=7
    )
    for estimate, mcse in [
        (mc.score_covariance.values, mc.mcse.score_covariance.values),
        (mc.negative_hessian.values, mc.mcse.negative_hessian.values),
    ]:
        assert np.all(np.abs(quadrature - estimate) <= 4 * mcse)
    assert np.all(np.linalg.eigvalsh(quadrature) > 0)


def test_multivariate_observations_are_refused():
    with pm.Model() as model:
        mu = pm.Normal("mu", shape=2)
        pm.MvNormal("y", mu, np.eye(2), observed=np.zeros((3, 2)))
    with pytest.raises(UnsupportedModelError, match="y is multivariate"):
        fisher_information({"mu": np.zeros(2)}, model=model, method="quadrature")


# Closed forms written here, independently of pmfisher, for distributions that are not in
# the exact table: each observation's information in its own parameters.


def normal_moments(z_low, z_high):
    """∫ zᵏ φ(z) dz over [z_low, z_high], k = 0..4, by the recursion
    M_k = (k − 1) M_{k−2} − [z^{k−1} φ(z)]."""
    phi = stats.norm.pdf
    moments = [stats.norm.cdf(z_high) - stats.norm.cdf(z_low), -(phi(z_high) - phi(z_low))]
    for k in range(2, 5):
        edge = z_high ** (k - 1) * phi(z_high) - (
            z_low ** (k - 1) * phi(z_low) if np.isfinite(z_low) else 0.0
        )
        moments.append((k - 1) * moments[k - 2] - edge)
    return moments


def tobit_information(mu, sigma, low, high):
    """A Normal(μ, σ) censored to [low, high] (Tobit): the interior's scores
    ((z/σ), (z² − 1)/σ) and the two point masses Φ(z_l) and 1 − Φ(z_u), in (μ, σ)."""
    z_low, z_high = (low - mu) / sigma, (high - mu) / sigma
    m = normal_moments(z_low, z_high)
    interior = np.array([[m[2], m[3] - m[1]], [m[3] - m[1], m[4] - 2 * m[2] + m[0]]])
    atoms = np.zeros((2, 2))
    for z, mass, sign in [
        (z_low, stats.norm.cdf(z_low), -1.0),
        (z_high, stats.norm.sf(z_high), 1.0),
    ]:
        if mass > 0:
            score = sign * stats.norm.pdf(z) / mass * np.array([1.0, z])
            atoms += mass * np.outer(score, score)
    return (interior + atoms) / sigma**2


def zip_information(psi, mu):
    """Zero-inflated Poisson in (ψ, μ), p₀ = 1 − ψ + ψe^{−μ} (Lambert 1992's form)."""
    e = np.exp(-mu)
    p0 = 1 - psi + psi * e
    cross = psi * e * (1 - e) / p0 + e
    return np.array(
        [
            [(1 - e) ** 2 / p0 + (1 - e) / psi, cross],
            [cross, psi**2 * e**2 / p0 + psi * (1 / mu - e)],
        ]
    )


X_DESIGN = np.array([-1.0, -0.2, 0.4, 1.0])


def test_censored_normal_and_exponential_equal_their_closed_forms():
    """Tobit censoring on both sides, and an Exponential right-censored at c (log-scale
    information 1 − e^{−c/β}). Without the point masses the Tobit entries would lose
    47–64 % of their value; the tolerance is PyMC's normal log-CDF accuracy (about 1e-8),
    which enters through the scores at the bounds.
    """
    with pm.Model(coords={"obs": np.arange(4)}) as model:
        x = pm.Data("x", X_DESIGN, dims="obs")
        a, s, b = pm.Normal("a"), pm.HalfNormal("s"), pm.Normal("b")
        mean = pm.Deterministic("mean", a + x, dims="obs")
        pm.Censored(
            "y", pm.Normal.dist(mean, s), lower=-0.8, upper=0.5, observed=np.zeros(4), dims="obs"
        )
        pm.Censored(
            "t",
            pm.Exponential.dist(scale=pm.math.exp(b + x)),
            lower=None,
            upper=1.0,
            observed=np.full(4, 0.5),
            dims="obs",
        )
    point = {"a": 0.2, "s": 0.8, "b": 0.3}
    info = fisher_information(point, model=model, method="quadrature")
    expected = np.zeros((3, 3))
    expected[:2, :2] = sum(tobit_information(0.2 + x, 0.8, -0.8, 0.5) for x in X_DESIGN)
    expected[2, 2] = sum(1 - np.exp(-1.0 / np.exp(0.3 + x)) for x in X_DESIGN)
    labels = list(info.matrix.param_i.values)
    order = [labels.index(name) for name in ("a", "s", "b")]
    np.testing.assert_allclose(
        info.matrix.values[np.ix_(order, order)], expected, rtol=1e-7, atol=1e-9
    )
    assert info.matrix.attrs["legendre_nodes"] == 64
    assert info.matrix.attrs["probit_limit"] == 8.0


def test_censored_poisson_and_a_support_that_must_grow():
    """A Poisson right-censored at 3 (the mass P(Y ≥ 3) at 3), and a Poisson of mean
    e⁵ ≈ 148 whose support must grow past 64 and 128 before less than 1e-14 is left (its
    1 − Σ p(k) rounds to about 2e-14, so the tail is read off the support's upper half)."""
    with pm.Model() as model:
        a = pm.Normal("a")
        pm.Censored(
            "y",
            pm.Poisson.dist(pm.math.exp(a + X_DESIGN)),
            lower=None,
            upper=3,
            observed=np.ones(4, dtype=int),
        )
        pm.Poisson("big", pm.math.exp(a + 4.8), observed=np.ones(3, dtype=int))
    info = fisher_information({"a": 0.2}, model=model, method="quadrature")
    expected = 3 * np.exp(5.0)  # the uncensored Poisson's information for log μ is μ
    for mu in np.exp(0.2 + X_DESIGN):
        below = np.arange(3)
        survival = stats.poisson.sf(2, mu)
        expected += np.sum(stats.poisson.pmf(below, mu) * (below - mu) ** 2)
        expected += survival * (mu * stats.poisson.pmf(2, mu) / survival) ** 2
    assert float(info.matrix.values[0, 0]) == pytest.approx(expected, rel=1e-12)
    assert info.matrix.attrs["discrete_support"] >= 256  # 128 leaves 96 % of "big" out
    assert info.matrix.attrs["tail_mass"] <= info.matrix.attrs["tail_mass_tolerance"] == 1e-14


def test_zero_inflated_poisson_equals_its_closed_form():
    with pm.Model() as model:
        x = pm.Data("x", X_DESIGN)
        a, b = pm.Normal("a"), pm.Normal("b")
        psi = pm.Beta("psi", 2.0, 2.0)
        pm.ZeroInflatedPoisson(
            "y", psi=psi, mu=pm.math.exp(a + b * x), observed=np.ones(4, dtype=int), shape=x.shape
        )
    point = {"a": 0.3, "b": 0.8, "psi": 0.6}
    info = fisher_information(point, model=model, method="quadrature")
    expected = np.zeros((3, 3))  # (a, b, psi)
    for x in X_DESIGN:
        mu = np.exp(0.3 + 0.8 * x)
        jacobian = np.array([[0.0, 0.0, 1.0], [mu, mu * x, 0.0]])  # (ψ, μ) by (a, b, ψ)
        expected += jacobian.T @ zip_information(0.6, mu) @ jacobian
    labels = list(info.matrix.param_i.values)
    order = [labels.index(name) for name in ("a", "b", "psi")]
    np.testing.assert_allclose(info.matrix.values[np.ix_(order, order)], expected, rtol=1e-12)


def test_hurdle_gamma_equals_its_closed_form():
    """A hurdle puts 1 − ψ on 0: the information is the Bernoulli's in ψ, n/(ψ(1 − ψ)), and
    ψ times the Gamma's, α per observation for the log rate, with no cross term."""
    with pm.Model() as model:
        a = pm.Normal("a")
        psi = pm.Beta("psi", 2.0, 2.0)
        pm.HurdleGamma("y", psi=psi, alpha=2.5, beta=pm.math.exp(a + X_DESIGN), observed=np.ones(4))
    info = fisher_information({"a": 0.2, "psi": 0.6}, model=model, method="quadrature")
    labels = list(info.matrix.param_i.values)
    order = [labels.index(name) for name in ("a", "psi")]
    expected = np.diag([0.6 * 2.5 * 4, 4 / (0.6 * 0.4)])
    np.testing.assert_allclose(
        info.matrix.values[np.ix_(order, order)], expected, rtol=1e-9, atol=1e-9
    )


def test_truncated_normal_and_a_custom_dist_agree_with_monte_carlo():
    """No closed form: a Normal truncated below at 0, a Gumbel given as a pm.CustomDist,
    within 4 MCSE of both Monte Carlo estimators; a CustomDist of a log-normal equals the
    LogNormal's closed form."""
    with pm.Model() as model:
        a, s = pm.Normal("a"), pm.HalfNormal("s")
        pm.Truncated("y", pm.Normal.dist(a + X_DESIGN, s), lower=0.0, observed=np.ones(4))
        pm.CustomDist(
            "g",
            a - X_DESIGN,
            s,
            dist=lambda mu, scale, size: pm.Gumbel.dist(mu, scale, size=size),
            observed=np.ones(4),
        )
    point = {"a": 0.2, "s": 0.8}
    quadrature = fisher_information(point, model=model, method="quadrature").matrix.values
    mc = fisher_information(
        point, model=model, method="monte_carlo", replicates=4000, random_seed=11
    )
    for estimate, mcse in [
        (mc.score_covariance.values, mc.mcse.score_covariance.values),
        (mc.negative_hessian.values, mc.mcse.negative_hessian.values),
    ]:
        assert np.all(np.abs(quadrature - estimate) <= 4 * mcse)


def test_a_custom_dist_given_by_dist_equals_the_closed_form():
    with pm.Model() as custom:
        a, s = pm.Normal("a"), pm.HalfNormal("s")
        pm.CustomDist(
            "y",
            a + X_DESIGN,
            s,
            dist=lambda mu, sigma, size: pm.math.exp(pm.Normal.dist(mu, sigma, size=size)),
            observed=np.ones(4),
        )
    with pm.Model() as closed:
        a, s = pm.Normal("a"), pm.HalfNormal("s")
        pm.LogNormal("y", a + X_DESIGN, s, observed=np.ones(4))
    point = {"a": 0.2, "s": 0.8}
    quadrature = fisher_information(point, model=custom, method="quadrature").matrix.values
    exact = fisher_information(point, model=closed, method="exact").matrix.values
    np.testing.assert_allclose(quadrature, exact, rtol=1e-9, atol=1e-12 * np.abs(exact).max())


def test_a_potential_and_a_custom_logp_without_quantile_are_refused():
    with pm.Model() as potential:
        a = pm.Normal("a")
        pm.Normal("y", a + X_DESIGN, 1.0, observed=np.ones(4))
        pm.Potential("penalty", -((a - 1.0) ** 2))
    with pytest.raises(UnsupportedModelError, match=r"pm\.Potential 'penalty'"):
        fisher_information({"a": 0.2}, model=potential, method="quadrature")
    with pm.Model() as custom:
        a = pm.Normal("a")
        pm.CustomDist(
            "y", a + X_DESIGN, logp=lambda value, mu: -0.5 * (value - mu) ** 2, observed=np.ones(4)
        )
    with pytest.raises(UnsupportedModelError, match=r"observed variable y .*no quantile"):
        fisher_information({"a": 0.2}, model=custom, method="quadrature")
