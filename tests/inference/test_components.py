"""summary(latent=...): lme4's layout on a linear mixed model, against statsmodels' MixedLM
(maximum likelihood): fixed-effect standard errors, the variance component, the conditional
modes (BLUPs) and their conditional standard errors; the profile interval of the variance
component against an independent profile of the exact marginal likelihood (SciPy)."""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import statsmodels.formula.api as smf
from scipy import optimize, stats

import pmfisher
from pmfisher.errors import PMFisherError

GROUPS, PER_GROUP = 9, 6
NAMES = [f"g{k}" for k in range(GROUPS)]


def data(seed: int, group_sd: float):
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(GROUPS), PER_GROUP)
    x = rng.normal(size=group.size)
    y = 1.0 + 0.5 * x + rng.normal(0, group_sd, GROUPS)[group] + rng.normal(0, 0.7, group.size)
    return group, x, y


def mixed_model(group, x, y) -> pm.Model:
    coords = {"group": NAMES, "obs": np.arange(y.size), "coef": ["intercept", "x"]}
    with pm.Model(coords=coords) as model:
        index = pm.Data("group_index", group, dims="obs")
        covariate = pm.Data("x", x, dims="obs")
        beta = pm.Normal("beta", 0, 10, dims="coef")
        group_sd = pm.HalfNormal("group_sd", 2)
        sigma = pm.HalfNormal("sigma", 2)
        pm.Deterministic("group_variance", group_sd**2)
        effect = pm.Normal("effect", 0, group_sd, dims="group")
        mean = pm.Deterministic("mean", beta[0] + beta[1] * covariate + effect[index], dims="obs")
        pm.Normal("y", mean, sigma, observed=y, dims="obs")
    return model


@pytest.fixture(scope="module")
def fitted():
    group, x, y = data(7, 0.8)
    frame = pd.DataFrame({"y": y, "x": x, "g": group})
    reference = smf.mixedlm("y ~ x", frame, groups="g").fit(reml=False)
    model = mixed_model(group, x, y)
    return (group, x, y), reference, model, pmfisher.summary(model=model, latent="effect")


def test_fixed_effects_and_variance_component_equal_statsmodels(fitted):
    _, reference, _, result = fitted
    table = result.table
    fixed = table.sel(param=["beta[intercept]", "beta[x]"])
    np.testing.assert_allclose(fixed["estimate"], reference.fe_params, atol=1e-4)
    np.testing.assert_allclose(fixed["se"], reference.bse[["Intercept", "x"]], atol=1e-4)
    assert list(table["role"].values) == [
        "fixed effect",
        "fixed effect",
        "variance component",
        "variance component",  # the residual sd, as lme4 lists it
    ]
    scales = table.sel(param=["group_sd", "sigma"])
    assert np.isnan(scales["z"]).all()
    assert np.isnan(scales["p"]).all()
    group_sd = float(table["estimate"].sel(param="group_sd"))
    assert group_sd == pytest.approx(np.sqrt(float(reference.cov_re.iloc[0, 0])), abs=1e-4)
    assert float(table["estimate"].sel(param="sigma")) == pytest.approx(
        np.sqrt(reference.scale), abs=1e-4
    )
    assert table.attrs["logp"] == pytest.approx(reference.llf, rel=1e-8)
    assert "Laplace marginal" in table.attrs["density"]


def test_conditional_modes_and_standard_errors_equal_statsmodels(fitted):
    _, reference, _, result = fitted
    effects = result.conditional_modes
    assert list(effects["effect"].values) == [f"effect[{name}]" for name in NAMES]
    blups = [float(reference.random_effects[k].iloc[0]) for k in range(GROUPS)]
    np.testing.assert_allclose(effects["mode"], blups, atol=1e-4)
    conditional = [
        np.sqrt(float(reference.random_effects_cov[k].iloc[0, 0])) for k in range(GROUPS)
    ]
    np.testing.assert_allclose(effects["se"], conditional, atol=1e-4)
    text = str(result)
    assert "Variance components" in text
    assert "Conditional modes of effect" in text


def exact_log_likelihood(group, x, y, beta, group_sd, sigma) -> float:
    """The marginal log-likelihood of the random-intercept model, group by group."""
    total = 0.0
    for k in range(GROUPS):
        rows = group == k
        covariance = group_sd**2 * np.ones((rows.sum(), rows.sum())) + sigma**2 * np.eye(rows.sum())
        mean = beta[0] + beta[1] * x[rows]
        total += stats.multivariate_normal(mean, covariance).logpdf(y[rows])
    return total


def independent_profile_interval(group, x, y, level=0.95):
    """The group sd's profile interval from the exact marginal likelihood: β and log σ
    re-maximized by SciPy at each fixed value, the ends by Brent's method; an end with
    |r| below the quantile all the way to 0 is 0."""

    def best(fixed_sd, start):
        def negative(free):
            return -exact_log_likelihood(group, x, y, free[:2], fixed_sd, np.exp(free[2]))

        found = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-9})
        return -found.fun, found.x

    overall = optimize.minimize(
        lambda free: -exact_log_likelihood(group, x, y, free[:2], np.exp(free[3]), np.exp(free[2])),
        np.array([1.0, 0.5, 0.0, 0.0]),
        method="BFGS",
        options={"gtol": 1e-9},
    )
    top, estimate = -overall.fun, np.exp(overall.x[3])
    quantile = stats.norm.ppf(0.5 + level / 2)

    def signed_root(sd):
        value, _ = best(sd, overall.x[:3])
        return np.sign(sd - estimate) * np.sqrt(max(0.0, 2 * (top - value)))

    lower = 0.0
    if signed_root(1e-8) < -quantile:
        lower = optimize.brentq(lambda sd: signed_root(sd) + quantile, 1e-8, estimate, xtol=1e-9)
    upper = optimize.brentq(
        lambda sd: signed_root(sd) - quantile, estimate, 10 * estimate, xtol=1e-9
    )
    return lower, upper


def test_profile_interval_of_the_variance_component(fitted):
    (group, x, y), _, model, _ = fitted
    result = pmfisher.summary(model=model, latent="effect", ci="profile")
    row = result.table.sel(param="group_sd")
    lower, upper = independent_profile_interval(group, x, y)
    assert abs(float(row["lower"]) - lower) < 1e-3
    assert abs(float(row["upper"]) - upper) < 1e-3
    wald = float(row["estimate"]) - stats.norm.ppf(0.975) * float(row["se"])
    assert abs(wald - lower) > 0.05  # the profile is not the Wald interval here
    assert set(result.profiles) == {"beta[intercept]", "beta[x]", "group_sd", "sigma"}


def test_a_variance_component_near_zero_ends_at_the_boundary():
    group, x, y = data(5, 0.25)  # σ̂_group = 0.20, its likelihood flat down to 0
    result = pmfisher.summary(model=mixed_model(group, x, y), latent="effect", ci="profile")
    row = result.table.sel(param="group_sd")
    lower, upper = independent_profile_interval(group, x, y)
    assert lower == 0.0
    assert float(row["lower"]) == 0.0
    assert "e" in str(row["note"].values).split(",")
    assert "edge of the support" in result.notes["e"]
    assert abs(float(row["upper"]) - upper) < 1e-3
    assert "[e]" in str(result)


def test_latent_needs_the_observed_information(fitted):
    _, _, model, _ = fitted
    with pytest.raises(PMFisherError, match="information='sandwich' with latent"):
        pmfisher.summary(model=model, latent="effect", information="sandwich")


def test_a_variance_component_estimated_at_zero_is_marked():
    group, x, y = data(3, 0.05)  # the marginal likelihood is largest at σ_group → 0
    result = pmfisher.summary(model=mixed_model(group, x, y), latent="effect")
    table = result.table
    assert table.attrs["converged"] == 0
    assert str(table["note"].sel(param="group_sd").values) == "*,b"
    assert "group_sd" in result.notes["b"]
    assert "did not converge" in result.notes["*"]
    text = str(result)
    assert "group_sd *,b" in text
    assert text.count("[b]") == 1


SUBJECTS, DAYS = 8, 7
EFFECTS = ["intercept", "slope"]


def random_slopes():
    """A sleepstudy-shaped data set: correlated random intercepts and slopes (this seed's ML
    correlation, 0.383, is interior)."""
    rng = np.random.default_rng(5)
    days = np.tile(np.arange(DAYS, dtype=float), SUBJECTS)
    subject = np.repeat(np.arange(SUBJECTS), DAYS)
    sds, correlation = np.array([20.0, 6.0]), 0.4
    covariance = np.outer(sds, sds) * np.array([[1.0, correlation], [correlation, 1.0]])
    b = rng.multivariate_normal([0.0, 0.0], covariance, size=SUBJECTS)
    y = 250 + 10 * days + b[subject, 0] + b[subject, 1] * days + rng.normal(0, 15, days.size)
    return subject, days, y


def slopes_model(subject, days, y, *, lkj: bool) -> pm.Model:
    """The same likelihood with the covariance of the effects written two ways: PyMC's
    ``LKJCholeskyCov`` (a packed Cholesky factor) or its standard deviations and
    correlation as free variables."""
    with pm.Model(coords={"subject": range(SUBJECTS), "effect": EFFECTS}) as model:
        day = pm.Data("days", days)
        beta = pm.Normal("beta", 0, 1000, dims="effect")
        if lkj:
            chol, _, _ = pm.LKJCholeskyCov(
                "chol", n=2, eta=1.0, sd_dist=pm.Exponential.dist(0.05, shape=2)
            )
            b = pm.MvNormal("b", 0, chol=chol, dims=("subject", "effect"))
        else:
            sds = pm.Exponential("sds", 0.05, dims="effect")
            rho = pm.Uniform("rho", -1, 1)
            off = rho * sds[0] * sds[1]
            covariance = pm.math.stack([[sds[0] ** 2, off], [off, sds[1] ** 2]])
            b = pm.MvNormal("b", 0, cov=covariance, dims=("subject", "effect"))
        sigma = pm.Exponential("sigma", 0.05)
        mean = beta[0] + b[subject, 0] + (beta[1] + b[subject, 1]) * day
        pm.Normal("y", mean, sigma, observed=y)
    return model


def test_an_lkj_covariance_reads_as_standard_deviations_and_a_correlation():
    """lme4 prints a covariance of random effects as its standard deviations and
    correlations: the LKJ factor's rows give way to them, with delta-method standard errors
    that equal those of the same quantities written as free variables (the observed
    information transforms by the tensor law at the maximum), and estimates equal to
    statsmodels' MixedLM (maximum likelihood)."""
    subject, days, y = random_slopes()
    packed = pmfisher.summary(model=slopes_model(subject, days, y, lkj=True), latent="b")
    direct = pmfisher.summary(model=slopes_model(subject, days, y, lkj=False), latent="b")
    natural = ["chol_stds[intercept]", "chol_stds[slope]", "chol_corr[intercept, slope]"]
    written = ["sds[intercept]", "sds[slope]", "rho"]
    assert [label for label in packed.table["param"].values if label.startswith("chol")] == natural
    assert set(packed.table.sel(param=natural)["role"].values) == {"variance component"}
    for column, tolerance in [("estimate", 1e-4), ("se", 1e-3)]:
        np.testing.assert_allclose(
            packed.table[column].sel(param=natural).values,
            direct.table[column].sel(param=written).values,
            rtol=tolerance,
        )
    frame = pd.DataFrame({"y": y, "days": days, "subject": subject})
    reference = smf.mixedlm("y ~ days", frame, groups="subject", re_formula="~days").fit(
        reml=False, method=["lbfgs"]
    )
    covariance = reference.cov_re.values
    sds = np.sqrt(np.diag(covariance))
    expected = np.r_[sds, covariance[0, 1] / (sds[0] * sds[1])]
    np.testing.assert_allclose(
        packed.table["estimate"].sel(param=natural).values, expected, rtol=1e-3
    )


@pytest.mark.parametrize(
    ("effects", "roles"),
    [
        ("normal", {"mu": "fixed effect", "s": "variance component"}),
        ("zero-sum normal", {"mu": "fixed effect", "s": "variance component"}),
        (
            "student-t",
            {"mu": "fixed effect", "s": "variance component", "nu": "variance component"},
        ),
    ],
)
def test_the_latent_distributions_spread_is_a_variance_component(effects, roles):
    """A truth table: what shapes the effects' spread is a variance component, their location
    a fixed effect, whichever parameter of the distribution holds it (``ZeroSumNormal`` has
    no location; ``StudentT``'s is its second); the response's sd is lme4's residual."""
    from pmfisher.fitting.laplace_marginal import laplace_marginal
    from pmfisher.inference.components import parameter_roles

    index = np.repeat(np.arange(5), 3)
    with pm.Model(coords={"group": range(5), "obs": range(15)}) as model:
        group = pm.Data("group_index", index, dims="obs")
        mu, s = pm.Normal("mu", 0, 5), pm.HalfNormal("s", 1)
        if effects == "normal":
            a = pm.Normal("a", 0, s, dims="group")
        elif effects == "zero-sum normal":
            a = pm.ZeroSumNormal("a", s, dims="group")
        else:
            a = pm.StudentT("a", nu=pm.Gamma("nu", 2, 0.1), mu=0, sigma=s, dims="group")
        sigma = pm.HalfNormal("sigma", 1)
        pm.Normal("y", mu + a[group], sigma, observed=np.linspace(-1, 1, 15), dims="obs")
    marginal = laplace_marginal(model, "a", space="constrained", terms="likelihood")
    assert parameter_roles(marginal) == roles | {"sigma": "variance component"}
