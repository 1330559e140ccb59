"""The per-group inner check (approximation/group_check.py): each group's Laplace error by
one-dimensional importance sampling, against one-dimensional quadrature of each group's
integral; exact zero for Gaussian conditionals; the joint check where the density does not
split by group."""

import warnings

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, optimize, stats

from pmfisher.approximation import group_check
from pmfisher.approximation.group_check import GroupTerms, group_errors
from pmfisher.approximation.importance_sampling import khat_threshold
from pmfisher.approximation.nested_laplace import EXACT, _estimated_errors, _inner_check
from pmfisher.fitting.laplace_marginal import laplace_marginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent

GROUPS, PER_GROUP = 6, 3


@pytest.fixture(scope="module")
def poisson_glmm():
    """Few low counts per group and a large random-effect scale: the Laplace marginal of each
    group's integral is clearly off."""
    rng = np.random.default_rng(3)
    index = np.repeat(np.arange(GROUPS), PER_GROUP)
    y = rng.poisson(np.exp(-0.5 + 1.5 * rng.normal(size=GROUPS))[index])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, shape=GROUPS)
        pm.Poisson("y", pm.math.exp(mu + tau * z[index]), observed=y)
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="likelihood", structure="sparse"
    )
    return marginal, y.reshape(GROUPS, PER_GROUP)


def exact_error(marginal, y, phi) -> float:
    """log p(y | μ, τ) by quadrature of each group's integral over z_j, minus L(φ)."""
    mu, tau = phi[0], np.exp(phi[1])

    def log_integrand(z, counts):
        return stats.norm.logpdf(z) + stats.poisson.logpmf(counts, np.exp(mu + tau * z)).sum()

    total = 0.0
    for counts in y:
        # The conditional of z_j is log-concave with sd below the prior's 1: ± 15 around its
        # mode holds all but e^-112 of the mass.
        peak = optimize.minimize_scalar(lambda z: -log_integrand(z, counts))  # noqa: B023
        mass, _ = integrate.quad(
            lambda z: np.exp(log_integrand(z, counts) + peak.fun),  # noqa: B023
            peak.x - 15,
            peak.x + 15,
            points=[peak.x],
            epsabs=0,
            epsrel=1e-12,
            limit=200,
        )
        total += np.log(mass) - peak.fun
    return total - marginal.value(phi)


def test_the_per_group_estimate_agrees_with_quadrature(poisson_glmm, monkeypatch):
    marginal, y = poisson_glmm
    assert isinstance(marginal.structured, DiagonalLatent)
    # More draws than the check's own, for a tighter comparison (6 groups: cheap).
    monkeypatch.setattr(group_check, "GROUP_CHECK_DRAWS", 8000)
    for seed, phi in enumerate([np.array([-1.0, np.log(2.5)]), np.array([0.5, np.log(2.0)])]):
        exact = exact_error(marginal, y, phi)
        assert abs(exact) > 0.09  # the Laplace marginal is clearly off
        error, mcse, pareto_k = group_errors(marginal, phi, np.random.default_rng(seed))
        assert mcse < 0.1 * abs(exact)
        assert abs(error - exact) < 4 * mcse, (error, exact, mcse)
        assert pareto_k < 0.5


def test_a_gaussian_conditional_has_no_error():
    """The hierarchical normal model: every g_j is quadratic in z_j, so the control variate
    makes every group's estimate 1 to rounding, at every φ; and the nested Laplace, which
    proves the conditional Gaussian from the graph, does not sample at all."""
    rng = np.random.default_rng(4)
    groups, per_group = 40, 5
    index = np.repeat(np.arange(groups), per_group)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 2)
        z = pm.Normal("z", 0, 1, shape=groups)
        sigma = pm.HalfNormal("sigma", 2)
        pm.Normal("y", mu + tau * z[index], sigma, observed=rng.normal(size=index.size))
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="posterior", structure="sparse"
    )
    phis = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.5], [-2.0, 1.0, -0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors, mcses, _, method = _estimated_errors(marginal, phis, np.random.default_rng(0))
    assert method == "per group"
    np.testing.assert_allclose(errors, 0.0, atol=1e-10)
    np.testing.assert_allclose(mcses, 0.0, atol=1e-10)
    check = _inner_check(marginal, phis, np.random.default_rng(0))
    assert check["inner_check_error"].attrs["method"] == EXACT
    np.testing.assert_array_equal(check["inner_check_error"], 0.0)
    assert np.isnan(check["inner_check_pareto_k"]).all()


def test_a_term_of_two_latent_entries_takes_the_joint_check():
    """A potential linear in z_0 + z_1 leaves the latent Hessian diagonal but ties the two
    entries in one term: the per-group split does not hold, and the joint check runs (and
    finds no error: the conditional is Gaussian)."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        z = pm.Normal("z", mu, 1, shape=4)
        pm.Potential("tilt", 0.5 * (z[0] + z[1]))
        pm.Normal("y", z, 0.5, observed=[3.0, 0.0, 1.0, 2.0])
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="posterior", structure="sparse"
    )
    assert isinstance(marginal.structured, DiagonalLatent)
    assert marginal.split.companion(GroupTerms).group is None
    phis = np.array([[0.0], [0.5]])
    errors, _, _, method = _estimated_errors(marginal, phis, np.random.default_rng(0))
    assert method == "joint"
    np.testing.assert_allclose(errors, 0.0, atol=1e-10)


def test_a_conditional_with_heavier_tails_than_the_proposal_is_flagged():
    """Cauchy group effects with no data of their own: each conditional is a Cauchy, whose
    tails outweigh the Student-t proposal's, so the weights have infinite variance. The
    Laplace error is known (each group's ½ log π: the Cauchy density 1/π and curvature 2 at
    its mode), the estimate cannot be trusted, and the per-group k̂ says so."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 1)
        pm.Cauchy("z", alpha=mu, beta=1.0, shape=6)
        pm.Normal("w", mu, 1.0, observed=[0.1, -0.3])
    marginal = laplace_marginal(
        model, "z", space="unconstrained", terms="posterior", structure="sparse"
    )
    np.testing.assert_allclose(
        marginal.value(np.array([0.0])) + 6 * 0.5 * np.log(np.pi),
        stats.norm.logpdf(0.0) + stats.norm.logpdf([0.1, -0.3]).sum(),
    )
    threshold = khat_threshold(group_check.GROUP_CHECK_DRAWS)
    with pytest.warns(UserWarning, match=r"largest per-group Pareto k̂ .* the estimate itself"):
        check = _inner_check(marginal, np.array([[0.0], [0.5]]), np.random.default_rng(0))
    assert np.all(check["inner_check_pareto_k"] > threshold)
