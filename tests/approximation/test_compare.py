"""compare: every number recomputed independently, and Laplace vs NUTS on a Poisson GLM."""

import warnings

import arviz_stats
import numpy as np
import pymc as pm
import pytest
import xarray as xr

from pmfisher.approximation.compare import INTERVAL_PROBS, compare
from pmfisher.approximation.laplace import laplace
from pmfisher.errors import PMFisherError
from tests.closed_forms import model_for, poisson_regression_data

RNG = np.random.default_rng(20261122)
GROUPS = ["A", "B"]


def _tree(mu, sigma, *, chains, draws, fit=None, shift=0.0):
    """A posterior with a vector ``mu`` (dims group), a positive ``sigma`` and a deterministic
    ``spread`` = mu[A] − mu[B] + sigma, optionally with a Laplace-like ``fit`` group."""
    mu_draws = RNG.multivariate_normal(
        np.asarray(mu) + shift, [[1.0, 0.6], [0.6, 2.0]], size=(chains, draws)
    )
    sigma_draws = np.exp(RNG.normal(np.log(sigma), 0.3, size=(chains, draws)))
    posterior = xr.Dataset(
        {
            "mu": (("chain", "draw", "group"), mu_draws),
            "sigma": (("chain", "draw"), sigma_draws),
            "spread": (("chain", "draw"), mu_draws[..., 0] - mu_draws[..., 1] + sigma_draws),
        },
        coords={"group": GROUPS},
    )
    groups = {"posterior": posterior}
    if fit is not None:
        groups["fit"] = fit
    return xr.DataTree.from_dict(groups)


def _fit(pareto_k):
    labels = ["mu[A]", "mu[B]", "sigma_log__"]
    return xr.Dataset(
        {
            "mean_vector": ("param", np.zeros(3)),
            "pareto_k": pareto_k,
        },
        coords={"param": labels},
    )


@pytest.fixture(scope="module")
def pair():
    approx = _tree([0.0, 1.0], 1.0, chains=1, draws=3000, fit=_fit(0.42), shift=0.3)
    reference = _tree([0.0, 1.0], 1.2, chains=2, draws=1000)
    return approx, reference


def _flat(tree):
    posterior = tree["posterior"]
    columns = {
        "mu[A]": posterior["mu"].sel(group="A").values.ravel(),
        "mu[B]": posterior["mu"].sel(group="B").values.ravel(),
        "sigma": posterior["sigma"].values.ravel(),
        "spread": posterior["spread"].values.ravel(),
    }
    return columns


def _wasserstein_by_cdfs(a, b):
    """W1 = ∫ |F_a − F_b| over the merged support, from the two empirical CDFs."""
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid[:-1], side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid)))


def test_margins_match_an_independent_computation(pair):
    approx, reference = pair
    table = compare(approx, reference)
    a, r = _flat(approx), _flat(reference)
    assert table["param"].values.tolist() == list(a)
    for label in a:
        row = table.sel(param=label)
        mean_a, mean_r = np.mean(a[label]), np.mean(r[label])
        sd_a, sd_r = np.std(a[label], ddof=1), np.std(r[label], ddof=1)
        np.testing.assert_allclose(
            [row["mean_approx"], row["mean_reference"], row["sd_approx"], row["sd_reference"]],
            [mean_a, mean_r, sd_a, sd_r],
            rtol=1e-12,
        )
        np.testing.assert_allclose(row["z_gap"], (mean_a - mean_r) / sd_r, rtol=1e-12)
        np.testing.assert_allclose(row["sd_ratio"], sd_a / sd_r, rtol=1e-12)
        np.testing.assert_allclose(
            row["wasserstein"], _wasserstein_by_cdfs(a[label], r[label]), rtol=1e-10
        )
        for prob in INTERVAL_PROBS:
            low, high = np.quantile(a[label], [(1 - prob) / 2, (1 + prob) / 2])
            inside = np.mean((r[label] >= low) & (r[label] <= high))
            assert float(row["coverage"].sel(interval_prob=prob)) == inside


def test_joint_summaries_match_an_independent_computation(pair):
    approx, reference = pair
    table = compare(approx, reference)
    # The fit names mu and sigma (as sigma_log__): the deterministic spread is left out.
    assert table.attrs["joint_params"] == ["mu[A]", "mu[B]", "sigma"]
    a = np.column_stack([_flat(approx)[k] for k in ("mu[A]", "mu[B]", "sigma")])
    r = np.column_stack([_flat(reference)[k] for k in ("mu[A]", "mu[B]", "sigma")])
    mean_a, mean_r = a.mean(0), r.mean(0)
    cov_a, cov_r = np.cov(a.T), np.cov(r.T)
    precision_r = np.linalg.inv(cov_r)
    gap = mean_a - mean_r
    np.testing.assert_allclose(table["mahalanobis"], np.sqrt(gap @ precision_r @ gap), rtol=1e-10)
    kl = 0.5 * (
        np.trace(precision_r @ cov_a)
        + gap @ precision_r @ gap
        - 3
        + np.linalg.slogdet(cov_r)[1]
        - np.linalg.slogdet(cov_a)[1]
    )
    np.testing.assert_allclose(table["gaussian_kl"], kl, rtol=1e-10)
    precision_a = np.linalg.inv(cov_a)
    distance_a = np.einsum("si,ij,sj->s", a - mean_a, precision_a, a - mean_a)
    distance_r = np.einsum("si,ij,sj->s", r - mean_a, precision_a, r - mean_a)
    for prob in INTERVAL_PROBS:
        expected = np.mean(distance_r <= np.quantile(distance_a, prob))
        np.testing.assert_allclose(table["joint_coverage"].sel(interval_prob=prob), expected)
    assert float(table["pareto_k"]) == 0.42


def test_identical_gaussians_have_zero_kl_and_exact_coverage():
    tree = _tree([0.0, 1.0], 1.0, chains=2, draws=500)
    table = compare(tree, tree, var_names=["mu"])
    np.testing.assert_allclose(table["z_gap"], 0.0, atol=1e-12)
    np.testing.assert_allclose(table["sd_ratio"], 1.0)
    np.testing.assert_allclose(table["wasserstein"], 0.0, atol=1e-12)
    np.testing.assert_allclose(float(table["gaussian_kl"]), 0.0, atol=1e-12)
    # Quantiles interpolate between draws, so the coverage is p to within a draw or two.
    np.testing.assert_allclose(
        table["coverage"].values, np.broadcast_to(INTERVAL_PROBS, (2, 3)), atol=2 / 1000
    )
    assert "pareto_k" not in table


def test_bad_inputs_are_named():
    tree = _tree([0.0, 1.0], 1.0, chains=1, draws=50)
    other_coords = tree.copy()
    other_coords["posterior"] = tree["posterior"].to_dataset().assign_coords(group=["X", "Y"])
    cases = [
        ((tree, tree), {"var_names": ["nope"]}, "approximation's posterior has no variable 'nope'"),
        (
            (tree, other_coords),
            {},
            "label their parameters differently (first difference at 'mu[A]'",
        ),
        ((tree, xr.DataTree()), {}, "the reference has no posterior group"),
        ((tree, tree), {"var_names": ["mu", "sigma", "spread"]}, "singular covariance"),
    ]
    for arguments, options, message in cases:
        with pytest.raises(PMFisherError, match=message.replace("(", r"\(").replace("[", r"\[")):
            compare(*arguments, **options)


@pytest.fixture(scope="module")
def poisson_glm():
    model = model_for(poisson_regression_data)
    approx = laplace(model=model, draws=4000, random_seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = pm.sample(
            model=model, draws=500, tune=500, chains=2, random_seed=2, progressbar=False
        )
    return approx, reference


def test_laplace_and_nuts_agree_on_a_poisson_glm(poisson_glm):
    """The Gaussian's margins and central region against NUTS, within four Monte Carlo
    standard errors of the difference (the Laplace draws are independent; the NUTS draws'
    errors come from their effective sample size)."""
    approx, reference = poisson_glm
    table = compare(approx, reference)
    assert table["param"].values.tolist() == ["a", "b"]
    draws = approx["posterior"].sizes["draw"]
    mcse_mean = arviz_stats.mcse(reference, method="mean")
    mcse_sd = arviz_stats.mcse(reference, method="sd")
    ess = arviz_stats.ess(reference)
    for name in ("a", "b"):
        row = table.sel(param=name)
        sd_a = float(row["sd_approx"])
        gap_mcse = np.hypot(sd_a / np.sqrt(draws), float(mcse_mean[name]))
        assert abs(float(row["mean_approx"] - row["mean_reference"])) < 4 * gap_mcse
        # The sd of n independent normal draws has standard error sd / √(2(n − 1)).
        sd_mcse = np.hypot(sd_a / np.sqrt(2 * (draws - 1)), float(mcse_sd[name]))
        assert abs(float(row["sd_approx"] - row["sd_reference"])) < 4 * sd_mcse
    assert float(table["pareto_k"]) < 0.5
    # The NUTS mass inside the Laplace central 95% region is 95% up to the binomial Monte
    # Carlo error of the reference's effective draws.
    effective = min(float(ess[name]) for name in ("a", "b"))
    coverage_mcse = np.sqrt(0.95 * 0.05 / effective)
    assert abs(float(table["joint_coverage"].sel(interval_prob=0.95)) - 0.95) < 4 * coverage_mcse
