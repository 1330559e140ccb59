"""The zoo: one table of the model classes PyMC users write, shared by the tests.

Each :class:`Row` is a model factory (small data, fixed seeds), a point in the constrained
space, and what pmfisher must give on it: a result checked against the finite-difference
reference of :mod:`pmfisher.testing`, or the typed error (class and words of the message)
that names the variable and the reason. A new model class is one row. Models are built once
per session (:func:`model_for`), so that their compiled functions are shared by every check.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytest
from pymc.distributions.transforms import ordered

import pmfisher
from pmfisher.errors import NotPositiveDefiniteError, PMFisherError, UnsupportedModelError
from pmfisher.testing import finite_difference_jacobian

RNG = np.random.default_rng(20261130)
N = 16
X = RNG.normal(size=N)
COUNTS = RNG.poisson(2.0, size=N) * (RNG.random(N) > 0.3)
POSITIVE = RNG.gamma(3.0, np.exp(0.2 + 0.4 * X) / 3.0)
TWO_GROUPS = np.concatenate([RNG.normal(-1.0, 0.6, N // 2), RNG.normal(1.5, 0.6, N // 2)])
LEVELS = np.clip(np.round(1.0 + X + RNG.logistic(size=N) * 0.5), 0, 2).astype(int)
SERIES = np.cumsum(RNG.normal(0.0, 0.5, size=10))
TRIALS = np.full(N, 8)
SUCCESSES = RNG.binomial(TRIALS, 0.35)
MV = RNG.multivariate_normal([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]], size=10)


@dataclass(frozen=True)
class Row:
    """One model class: ``build()`` makes the model, ``point`` is a constrained point in
    its support, ``errors`` maps a check (``"likelihood"``, ``"posterior"`` for the terms
    of the observed information, or ``"scores"``, ``"fisher"``, ``"mode"``, ``"exact"`` for
    the exact Fisher information that the Gauss–Newton split and the KL curvature need,
    ``"sandwich"``, ``"laplace"``, ``"compare"`` for the joint comparison of two Laplace
    approximations, ``"im_test"`` for the information-matrix test, ``"simulate"`` for the
    simulated estimator) to the typed error and the words it must raise with, where pmfisher
    cannot give the result. A check's entry holds in both spaces unless a
    ``"check:unconstrained"`` entry says otherwise there (``None``: a result)."""

    name: str
    build: Callable[[], pm.Model]
    point: dict
    errors: dict[str, tuple[type[Exception], str] | None] = field(default_factory=dict)
    # The per-observation machinery (scores, simulated data sets, batched likelihoods: the
    # costliest checks) is checked on the rows where it is special.
    per_observation: bool = False


def _no_exact(distribution: str) -> dict:
    """The typed error of a row whose likelihood has no closed-form Fisher information."""
    return {
        "exact": (
            UnsupportedModelError,
            f"method='exact' is not available: the observed variable y has a {distribution} "
            "distribution",
        )
    }


def _no_im_degrees_of_freedom(n: int, d: int) -> dict:
    """The typed error of the information-matrix test where no indicator adds a direction
    to the scores: one observation, or a saturated categorical likelihood (sᵢsᵢᵀ = −∇²ℓᵢ)."""
    return {
        "im_test": (
            PMFisherError,
            rf"test of y has no degrees of freedom: with {n} observation\(s\) and {d} param",
        )
    }


def _constrained_draws(entries: str) -> dict:
    """The typed error of ``compare`` on entries that satisfy a constraint (a
    simplex, a zero-sum vector): their draws' joint covariance is singular."""
    return {
        "compare": (
            PMFisherError,
            f"draws of {entries} have a singular covariance.*choose var_names",
        )
    }


def _latent_errors() -> dict:
    """The typed errors of a latent process with as many states as data: the likelihood does
    not contain the process's parameters (a singular information, so no sandwich), and the
    posterior increases without bound as the process's scale goes to zero (no mode)."""
    return {
        "sandwich": (
            NotPositiveDefiniteError,
            r"not positive definite: eigenvalue -0 along sigma(_log__)? \(\+1.00\)",
        ),
        "laplace": (
            PMFisherError,
            r"no mode of the posterior was found .* as sigma_log__ → .* no mode exists",
        ),
    }


def _dirichlet_multinomial():
    with pm.Model() as model:
        p = pm.Dirichlet("p", a=np.ones(3))
        pm.Multinomial("y", n=20, p=p, observed=[4, 7, 9])
    return model


def _dirichlet_categorical():
    with pm.Model() as model:
        p = pm.Dirichlet("p", a=np.ones(3))
        pm.Categorical("y", p=p, observed=LEVELS)
    return model


def _ordered_logistic():
    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, 2.0)
        cutpoints = pm.Normal("cutpoints", 0.0, 3.0, shape=2, transform=ordered, initval=[-1, 1])
        pm.OrderedLogistic("y", eta=beta * X, cutpoints=cutpoints, observed=LEVELS)
    return model


def _lkj_mvnormal():
    with pm.Model() as model:
        chol, _, _ = pm.LKJCholeskyCov(
            "chol", n=2, eta=2.0, sd_dist=pm.Exponential.dist(1.0, shape=2), compute_corr=True
        )
        mu = pm.Normal("mu", 0.0, 5.0, shape=2)
        pm.MvNormal("y", mu=mu, chol=chol, observed=MV)
    return model


def _censored():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Censored(
            "y",
            pm.Normal.dist(mu, sigma),
            lower=None,
            upper=1.0,
            observed=np.minimum(TWO_GROUPS, 1.0),
        )
    return model


def _truncated():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Truncated("y", pm.Normal.dist(mu, sigma), lower=0.0, observed=POSITIVE)
    return model


def _counts(distribution, dispersion):
    def build():
        with pm.Model() as model:
            psi = pm.Beta("psi", 2.0, 2.0)
            mu = pm.Gamma("mu", 2.0, 1.0)
            extra = {"alpha": pm.Gamma("alpha", 2.0, 1.0)} if dispersion else {}
            distribution("y", psi=psi, mu=mu, observed=COUNTS, **extra)
        return model

    return build


def _normal_mixture(weights):
    def build():
        with pm.Model() as model:
            if weights == "dirichlet":
                w = pm.Dirichlet("w", a=np.ones(2))
            else:
                b = pm.Beta("b", 2.0, 2.0)
                w = pm.math.stack([b, 1.0 - b])
            mu = pm.Normal("mu", 0.0, 3.0, shape=2, transform=ordered, initval=[-1.0, 1.0])
            sigma = pm.HalfNormal("sigma", 1.0)
            pm.NormalMixture("y", w=w, mu=mu, sigma=sigma, observed=TWO_GROUPS)
        return model

    return build


def _mixture():
    with pm.Model() as model:
        w = pm.Dirichlet("w", a=np.ones(2))
        mu = pm.Normal("mu", 0.0, 3.0)
        components = [pm.Normal.dist(mu, 0.7), pm.StudentT.dist(nu=4.0, mu=1.5, sigma=0.7)]
        pm.Mixture("y", w=w, comp_dists=components, observed=TWO_GROUPS)
    return model


def _latent(process):
    def build():
        with pm.Model() as model:
            sigma = pm.HalfNormal("sigma", 1.0)
            if process == "ar":
                rho = pm.Uniform("rho", -1.0, 1.0)
                x = pm.AR(
                    "x", rho=rho[None], sigma=sigma, init_dist=pm.Normal.dist(0.0, 1.0), steps=9
                )
            else:
                x = pm.GaussianRandomWalk(
                    "x", sigma=sigma, init_dist=pm.Normal.dist(0.0, 1.0), steps=9
                )
            pm.Normal("y", x, 0.5, observed=SERIES)
        return model

    return build


def _student_t():
    with pm.Model() as model:
        nu = pm.Gamma("nu", 2.0, 0.1)
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfCauchy("sigma", 1.0)
        pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=TWO_GROUPS)
    return model


def _glm(family):
    def build():
        with pm.Model() as model:
            a = pm.Normal("a", 0.0, 2.0)
            b = pm.Normal("b", 0.0, 2.0)
            shape = pm.Gamma("shape", 2.0, 0.5)
            mean = pm.math.exp(a + b * X)
            if family == "gamma":
                pm.Gamma("y", alpha=shape, beta=shape / mean, observed=POSITIVE)
            else:
                scale = mean / pm.math.exp(pm.math.gammaln(1.0 + 1.0 / shape))
                pm.Weibull("y", alpha=shape, beta=scale, observed=POSITIVE)
        return model

    return build


def _potential():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        pm.Potential("likelihood", pm.logp(pm.Normal.dist(mu, 1.0), TWO_GROUPS).sum())
    return model


def _custom_dist():
    def logp(value, mu, sigma):
        return pm.logp(pm.Normal.dist(mu, sigma), value)

    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.CustomDist("y", mu, sigma, logp=logp, observed=TWO_GROUPS)
    return model


def _missing():
    data = TWO_GROUPS.copy()
    data[[2, 9]] = np.nan
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", mu, sigma, observed=data)
    return model


def _binomial(beta_binomial):
    def build():
        with pm.Model() as model:
            if beta_binomial:
                alpha = pm.Gamma("alpha", 2.0, 0.5)
                beta = pm.Gamma("beta", 2.0, 0.5)
                pm.BetaBinomial("y", alpha=alpha, beta=beta, n=TRIALS, observed=SUCCESSES)
            else:
                p = pm.Uniform("p", 0.0, 1.0)
                pm.Binomial("y", n=TRIALS, p=p, observed=SUCCESSES)
        return model

    return build


def _zero_sum():
    groups = np.arange(N) % 4
    with pm.Model(coords={"group": list("abcd")}) as model:
        a = pm.Normal("a", 0.0, 5.0)
        effects = pm.ZeroSumNormal("effects", sigma=1.0, dims="group")
        sigma = pm.HalfCauchy("sigma", 1.0)
        pm.Normal("y", a + effects[groups], sigma, observed=TWO_GROUPS)
    return model


def _uniform_halfcauchy():
    with pm.Model() as model:
        mu = pm.Uniform("mu", -3.0, 3.0)
        sigma = pm.HalfCauchy("sigma", 1.0)
        pm.Deterministic("variation", sigma / mu)  # a nonlinear one, for the delta method
        pm.Normal("y", mu, sigma, observed=TWO_GROUPS)
    return model


def _scalar():
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=3)
    return model


def _discrete():
    with pm.Model() as model:
        k = pm.Poisson("k", 3.0)
        pm.Normal("y", k, 1.0, observed=TWO_GROUPS)
    return model


ZOO = (
    Row(
        "dirichlet_multinomial",
        _dirichlet_multinomial,
        {"p": [0.25, 0.3, 0.45]},
        errors=_no_exact("Multinomial")
        | _constrained_draws(r"p\[0\], p\[1\], p\[2\]")
        | _no_im_degrees_of_freedom(1, 2),
        per_observation=True,
    ),
    Row(
        "dirichlet_categorical",
        _dirichlet_categorical,
        {"p": [0.25, 0.3, 0.45]},
        errors=_constrained_draws(r"p\[0\], p\[1\], p\[2\]"),
    ),
    Row("ordered_logistic", _ordered_logistic, {"beta": 0.8, "cutpoints": [-0.5, 1.2]}),
    Row(
        "lkj_mvnormal",
        _lkj_mvnormal,
        {"chol": [1.1, 0.4, 1.3], "mu": [0.1, 0.9]},
        errors=_no_exact("MultivariateNormal"),
        per_observation=True,
    ),
    Row(
        "censored_normal",
        _censored,
        {"mu": 0.2, "sigma": 1.3},
        errors=_no_exact("Censored"),
        per_observation=True,
    ),
    Row("truncated_normal", _truncated, {"mu": 0.8, "sigma": 1.1}),
    Row("zero_inflated_poisson", _counts(pm.ZeroInflatedPoisson, False), {"psi": 0.7, "mu": 2.1}),
    Row(
        "zero_inflated_negative_binomial",
        _counts(pm.ZeroInflatedNegativeBinomial, True),
        {"psi": 0.7, "mu": 2.1, "alpha": 3.0},
    ),
    Row(
        "hurdle_poisson",
        _counts(pm.HurdlePoisson, False),
        {"psi": 0.7, "mu": 2.1},
        errors=_no_exact("Hurdle"),
        per_observation=True,
    ),
    Row(
        "hurdle_negative_binomial",
        _counts(pm.HurdleNegativeBinomial, True),
        {"psi": 0.7, "mu": 2.1, "alpha": 3.0},
        errors=_no_exact("Hurdle"),
    ),
    Row(
        "normal_mixture_dirichlet",
        _normal_mixture("dirichlet"),
        {"w": [0.45, 0.55], "mu": [-0.9, 1.4], "sigma": 0.7},
        errors={
            **_no_exact("Mixture"),
            **_constrained_draws(r"w\[0\], w\[1\], mu\[0\], mu\[1\], sigma"),
            # Away from the MLE the mixture's observed information is indefinite (in the
            # unconstrained space, where the gradient term differs, it is not).
            "sandwich": (
                NotPositiveDefiniteError,
                "observed information is not positive definite: eigenvalue -[0-9.]+ along sigma",
            ),
            "sandwich:unconstrained": None,
        },
        per_observation=True,
    ),
    Row(
        "normal_mixture_beta",
        _normal_mixture("beta"),
        {"b": 0.45, "mu": [-0.9, 1.4], "sigma": 0.7},
    ),
    Row(
        "mixture",
        _mixture,
        {"w": [0.45, 0.55], "mu": -0.8},
        errors=_constrained_draws(r"w\[0\], w\[1\], mu"),
    ),
    Row(
        "ar", _latent("ar"), {"sigma": 0.6, "rho": 0.5, "x": SERIES * 0.9}, errors=_latent_errors()
    ),
    Row(
        "gaussian_random_walk",
        _latent("grw"),
        {"sigma": 0.6, "x": SERIES * 0.9},
        errors=_latent_errors(),
    ),
    Row("student_t", _student_t, {"nu": 5.0, "mu": 0.3, "sigma": 1.2}),
    Row("gamma_glm", _glm("gamma"), {"a": 0.2, "b": 0.3, "shape": 2.5}),
    Row("weibull_glm", _glm("weibull"), {"a": 0.2, "b": 0.3, "shape": 1.8}),
    Row(
        "potential",
        _potential,
        {"mu": 0.3},
        errors={
            check: (UnsupportedModelError, r"Potential term.*likelihood")
            for check in ("likelihood", "scores", "fisher")
        },
        per_observation=True,
    ),
    Row(
        "custom_dist",
        _custom_dist,
        {"mu": 0.3, "sigma": 1.2},
        errors={
            "fisher": (UnsupportedModelError, "y is a CustomDist without a forward sampler"),
            **_no_exact("CustomDist_y"),
        },
        per_observation=True,
    ),
    Row(
        "missing_observations",
        _missing,
        {"mu": 0.3, "sigma": 1.2, "y_unobserved": [0.1, 0.5]},
        errors={
            **{
                check: (UnsupportedModelError, "y_unobserved are imputed missing observations")
                for check in ("likelihood", "scores", "fisher")
            },
            # The posterior's y holds the data where it is observed.
            "compare": (PMFisherError, r"draws of y\[5\], y\[11\], y\[12\] are constant"),
        },
    ),
    Row("binomial", _binomial(False), {"p": 0.4}),
    Row("beta_binomial", _binomial(True), {"alpha": 2.0, "beta": 3.5}),
    Row(
        "zero_sum_normal",
        _zero_sum,
        {"a": 0.2, "effects": [0.4, -0.5, 0.3, -0.2], "sigma": 1.1},
        errors=_constrained_draws(
            r"a, effects\[a\], effects\[b\], effects\[c\], effects\[d\], sigma"
        ),
    ),
    Row("uniform_halfcauchy", _uniform_halfcauchy, {"mu": 0.4, "sigma": 1.3}),
    Row(
        "scalar",
        _scalar,
        {"lam": 2.5},
        errors=_no_im_degrees_of_freedom(1, 1),
        per_observation=True,
    ),
    Row(
        "discrete_free_variable",
        _discrete,
        {"k": 2},
        errors={
            check: (UnsupportedModelError, "free variable\\(s\\) k are discrete")
            for check in ("likelihood", "posterior", "scores", "fisher", "mode")
        },
        per_observation=True,
    ),
)

ROWS = {row.name: row for row in ZOO}


@functools.cache
def model_for(name: str) -> pm.Model:
    """The row's model, built once per session."""
    return ROWS[name].build()


NAMES = list(ROWS)
SPACES = ("constrained", "unconstrained")
PER_OBSERVATION = [name for name, row in ROWS.items() if row.per_observation]


def gradient_reference(logp, x):
    """∇ log p by finite differences of the compiled log-density alone (independent of
    every derivative engine)."""
    return finite_difference_jacobian(lambda y: np.atleast_1d(logp(y)), x)[0]


def expect(name: str, check: str, space: str = "constrained"):
    """``pytest.raises`` for the row's expected typed error, or ``None`` when the check
    must give a result (in the unconstrained space, the row's ``check:unconstrained`` entry
    where it has one)."""
    errors = ROWS[name].errors
    expected = errors.get(f"{check}:{space}", errors.get(check))
    return pytest.raises(expected[0], match=expected[1]) if expected else None


def close(actual, reference, rtol=1e-5):
    scale = max(1.0, float(np.abs(reference).max()))
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * scale)


def labelled_square(matrix, labels):
    """A finite symmetric matrix labelled by ``labels`` on both dims."""
    assert list(matrix["param_i"].values) == list(labels)
    assert list(matrix["param_j"].values) == list(labels)
    assert np.all(np.isfinite(matrix.values))
    np.testing.assert_allclose(matrix.values, matrix.values.T, atol=1e-12 * np.abs(matrix).max())


def closed_form_error(model, table, words):
    """``pytest.raises`` for a function that needs a closed form per observed variable
    (``table``: PyMC op type → form) when the model's likelihood has none, else ``None``."""
    missing = [rv.name for rv in model.observed_RVs if type(rv.owner.op) not in table]
    if not missing:
        return None
    return pytest.raises(UnsupportedModelError, match=words.format(missing[0]))


def seeded_monte_carlo(monkeypatch, replicates: int = 64) -> None:
    """Make the Monte Carlo Fisher information of the information, the bound and the natural
    gradient take ``replicates`` data sets and one seed by default, so that two calls give
    the same matrix. (The defaults live on the function that ``progress_switch`` wraps: the
    wrapper's own ``__kwdefaults__`` only holds ``progressbar``.)"""
    for function in (
        pmfisher.fisher_information,
        pmfisher.cramer_rao_bound,
        pmfisher.natural_gradient,
    ):
        defaults = function.__wrapped__.__kwdefaults__
        monkeypatch.setitem(defaults, "replicates", replicates)
        monkeypatch.setitem(defaults, "random_seed", 1)
