"""pmfisher.summary against statsmodels: GLM standard errors (observed = expected for the
canonical links), HC0 sandwich errors, Wald intervals and p-values to 1e-8; profile-likelihood
intervals against an independent profile (statsmodels GLMs with the profiled coefficient as an
offset, roots by SciPy) to 1e-3; deterministics by the delta method against the closed form."""

import numpy as np
import pymc as pm
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

import pmfisher
from pmfisher.errors import PMFisherError

RNG = np.random.default_rng(25)
N = 150
COEFS = ["intercept", "age", "dose"]
X = np.column_stack([np.ones(N), RNG.normal(size=(N, 2))])
TRUE = np.array([-0.3, 0.8, -0.5])
LOGIT_Y = RNG.binomial(1, 1 / (1 + np.exp(-X @ TRUE)))
POISSON_Y = RNG.poisson(np.exp(0.5 * X @ TRUE))
FAMILIES = {"logit": sm.families.Binomial(), "poisson": sm.families.Poisson()}
RESPONSES = {"logit": LOGIT_Y, "poisson": POISSON_Y}


def regression(kind: str) -> pm.Model:
    """A GLM written as a user writes it: data containers, coords and dims, a deterministic."""
    with pm.Model(coords={"coef": COEFS, "obs": np.arange(N)}) as model:
        design = pm.Data("X", X, dims=("obs", "coef"))
        beta = pm.Normal("beta", 0.0, 10.0, dims="coef")
        eta = pm.math.dot(design, beta)
        pm.Deterministic("ratio", pm.math.exp(beta), dims="coef")
        if kind == "logit":
            pm.Bernoulli("y", logit_p=eta, observed=LOGIT_Y, dims="obs")
        else:
            pm.Poisson("y", pm.math.exp(eta), observed=POISSON_Y, dims="obs")
    return model


@pytest.fixture(scope="module", params=["logit", "poisson"])
def case(request):
    kind = request.param
    model = regression(kind)
    glm = sm.GLM(RESPONSES[kind], X, family=FAMILIES[kind])
    return kind, model, glm, glm.fit(tol=1e-13, maxiter=100)


def test_standard_errors_z_p_and_wald_intervals_equal_statsmodels(case):
    _kind, model, _, fitted = case
    result = pmfisher.summary(model=model)
    table = result.table
    assert list(table["param"].values) == [f"beta[{name}]" for name in COEFS]
    np.testing.assert_allclose(table["estimate"], fitted.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(table["se"], fitted.bse, rtol=0, atol=1e-8)
    np.testing.assert_allclose(table["z"], fitted.tvalues, rtol=0, atol=1e-6)
    np.testing.assert_allclose(table["p"], fitted.pvalues, rtol=1e-6, atol=1e-12)
    low, high = fitted.conf_int().T
    np.testing.assert_allclose(table["lower"], low, rtol=0, atol=1e-8)
    np.testing.assert_allclose(table["upper"], high, rtol=0, atol=1e-8)
    assert table.attrs["information"] == "observed"
    assert table.attrs["n_obs"] == N
    assert table.attrs["logp"] == pytest.approx(fitted.llf, rel=1e-12)
    assert (table["note"] == "").all()
    assert not result.notes


def test_expected_information_equals_observed_for_a_canonical_link(case):
    _, model, _, fitted = case
    table = pmfisher.summary(model=model, information="expected", random_seed=1).table
    np.testing.assert_allclose(table["se"], fitted.bse, rtol=0, atol=1e-8)
    assert table.attrs["information"] == "expected"


def test_sandwich_errors_equal_statsmodels_hc0(case):
    _kind, model, glm, _ = case
    robust = glm.fit(tol=1e-13, maxiter=100, cov_type="HC0")
    table = pmfisher.summary(model=model, information="sandwich").table
    np.testing.assert_allclose(table["se"], robust.bse, rtol=0, atol=1e-8)
    low, _high = robust.conf_int().T
    np.testing.assert_allclose(table["lower"], low, rtol=0, atol=1e-8)


def test_deterministics_by_the_delta_method(case):
    _, model, _, fitted = case
    table = pmfisher.summary(model=model, var_names="ratio", level=0.9).table
    ratio = table.sel(param=[f"ratio[{name}]" for name in COEFS])
    np.testing.assert_allclose(ratio["estimate"], np.exp(fitted.params), rtol=1e-8)
    np.testing.assert_allclose(ratio["se"], np.exp(fitted.params) * fitted.bse, rtol=1e-8)
    assert set(ratio["role"].values) == {"derived"}
    low, _ = fitted.conf_int(alpha=0.1).T
    np.testing.assert_allclose(table["lower"][:3], low, rtol=0, atol=1e-8)


def independent_profile_interval(kind: str, j: int, level: float = 0.95) -> tuple[float, float]:
    """The profile interval of coefficient ``j`` from statsmodels alone: at each fixed value
    ``b`` the other coefficients are re-fitted by a GLM with offset ``X[:, j] * b``; SciPy's
    Brent finds where the signed root deviance crosses the normal quantile."""
    family, y = FAMILIES[kind], RESPONSES[kind]
    full = sm.GLM(y, X, family=family).fit(tol=1e-13)
    others = np.delete(X, j, axis=1)

    def signed_root(b):
        llf = sm.GLM(y, others, family=family, offset=X[:, j] * b).fit(tol=1e-13).llf
        return np.sign(b - full.params[j]) * np.sqrt(max(0.0, 2 * (full.llf - llf)))

    quantile = stats.norm.ppf(0.5 + level / 2)
    estimate, error = full.params[j], full.bse[j]
    lower = optimize.brentq(lambda b: signed_root(b) + quantile, estimate - 4 * error, estimate)
    upper = optimize.brentq(lambda b: signed_root(b) - quantile, estimate, estimate + 4 * error)
    return lower, upper


def test_profile_intervals_equal_an_independent_profile(case):
    kind, model, _, _ = case
    result = pmfisher.summary(model=model, ci="profile")
    for j, name in enumerate(COEFS):
        row = result.table.sel(param=f"beta[{name}]")
        lower, upper = independent_profile_interval(kind, j)
        assert abs(float(row["lower"]) - lower) < 1e-3
        assert abs(float(row["upper"]) - upper) < 1e-3
        profile = result.profiles[f"beta[{name}]"]
        # The profile passes through the estimate at r = 0 and out to both quantiles.
        assert float(abs(profile["signed_root_deviance"]).min()) == 0.0
        assert float(profile["signed_root_deviance"].max()) >= stats.norm.ppf(0.975) - 1e-8
    assert result.table.attrs["ci"] == "profile"


def test_the_table_prints_and_renders(case):
    _, model, _, _ = case
    result = pmfisher.summary(model=model)
    text = str(result)
    for expected in ("pmfisher.summary", "log-likelihood", "observed", "beta[dose]", "P>|z|"):
        assert expected in text
    assert "[0.025" in text
    assert "0.975]" in text
    html = result._repr_html_()
    assert html.count("<table>") == 2
    assert "beta[age]" in html
    frame = result.to_dataframe()
    assert list(frame.columns[:6]) == ["estimate", "se", "z", "p", "lower", "upper"]


def test_options_are_checked():
    model = regression("logit")
    with pytest.raises(PMFisherError, match="information='fisher'"):
        pmfisher.summary(model=model, information="fisher")
    with pytest.raises(PMFisherError, match="level=95"):
        pmfisher.summary(model=model, level=95)
    with pytest.raises(PMFisherError, match="terms='posterior'"):
        pmfisher.summary(model=model, terms="posterior", information="sandwich")
