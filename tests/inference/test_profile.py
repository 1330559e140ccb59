r"""inference/profile.py: profile-likelihood intervals against their closed forms and against
SciPy's Brent method on log-likelihoods written here independently — a Poisson rate, both
parameters of a normal sample (μ's profile re-maximizes σ: its interval is
:math:`\bar y \pm s\sqrt{e^{q^2/n} - 1}`), and a variance whose likelihood stays flat down to
0 (the interval ends at the edge); the transforms a profile cannot hold fixed are refused."""

import numpy as np
import pymc as pm
import pytest
from scipy import optimize, stats

from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import UnsupportedModelError
from pmfisher.inference.profile import ProfileEnds, Profiler, require_profilable

COUNTS = np.array([2, 4, 3, 5, 1, 0, 3])
SAMPLE = np.array([0.3, 1.1, -0.4, 0.8, 0.2, 1.7, -0.9, 0.5])
LEVELS = [0.9, 0.95]


def profiler(model, point) -> Profiler:
    """The profiler summary builds: the likelihood in unconstrained coordinates without the
    log-Jacobian (its maximizer is the constrained MLE)."""
    density = model_graph(model, space="unconstrained", terms="likelihood", jacobian=False)
    x = density.flatten(point)
    transformed = [
        model.rvs_to_transforms.get(model[block.rv_name]) is not None
        for block in density.blocks
        for _ in block.labels
    ]
    return Profiler(density, density, x, np.arange(density.size), x, transformed)


def brent_interval(log_likelihood, estimate, low, high, level) -> tuple[float, float]:
    """The ends where 2(ℓ(θ̂) − ℓ(θ)) = q², by Brent's method on each side of θ̂."""
    quantile = stats.norm.ppf(0.5 + level / 2)
    top = log_likelihood(estimate)

    def gap(value):
        return 2 * (top - log_likelihood(value)) - quantile**2

    return optimize.brentq(gap, low, estimate, xtol=1e-13), optimize.brentq(
        gap, estimate, high, xtol=1e-13
    )


@pytest.fixture(scope="module")
def poisson():
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=COUNTS)
    return profiler(model, {"lam": COUNTS.mean()})


@pytest.mark.parametrize("level", LEVELS)
def test_a_poisson_rate(poisson, level):
    ends = poisson.profile(0, stats.norm.ppf(0.5 + level / 2), ("lam", 0))
    lower, upper = brent_interval(
        lambda rate: stats.poisson.logpmf(COUNTS, rate).sum(), COUNTS.mean(), 1e-3, 20.0, level
    )
    assert isinstance(ends, ProfileEnds)
    assert ends.lower == pytest.approx(lower, rel=1e-8)
    assert ends.upper == pytest.approx(upper, rel=1e-8)
    assert (ends.lower_at_boundary, ends.upper_at_boundary, ends.reason) == (False, False, "")
    # Not the Wald interval λ̂ ± q√(λ̂/n): the profile is skewed to the right.
    assert upper - COUNTS.mean() > COUNTS.mean() - lower


@pytest.fixture(scope="module")
def normal():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=SAMPLE)
    spread = np.sqrt(np.mean((SAMPLE - SAMPLE.mean()) ** 2))
    return profiler(model, {"mu": SAMPLE.mean(), "sigma": spread}), spread


@pytest.mark.parametrize("level", LEVELS)
def test_the_mean_of_a_normal_sample_with_its_scale_re_maximized(normal, level):
    """σ̂²(μ) = s² + (μ − ȳ)², so 2(ℓ̂ − ℓ_p(μ)) = n log(1 + (μ − ȳ)²/s²)."""
    density, spread = normal
    quantile = stats.norm.ppf(0.5 + level / 2)
    ends = density.profile(0, quantile, ("mu", 0))
    half = spread * np.sqrt(np.expm1(quantile**2 / SAMPLE.size))
    assert ends.lower == pytest.approx(SAMPLE.mean() - half, abs=1e-9)
    assert ends.upper == pytest.approx(SAMPLE.mean() + half, abs=1e-9)


@pytest.mark.parametrize("level", LEVELS)
def test_the_scale_of_a_normal_sample(normal, level):
    density, spread = normal
    ends = density.profile(1, stats.norm.ppf(0.5 + level / 2), ("sigma", 0))
    lower, upper = brent_interval(
        lambda sigma: stats.norm.logpdf(SAMPLE, SAMPLE.mean(), sigma).sum(),
        spread,
        1e-3,
        50.0,
        level,
    )
    assert ends.lower == pytest.approx(lower, rel=1e-8)
    assert ends.upper == pytest.approx(upper, rel=1e-8)


def test_the_profile_passes_through_the_estimate_and_its_ends(normal):
    density, spread = normal
    quantile = stats.norm.ppf(0.975)
    ends = density.profile(1, quantile, ("sigma", 0))
    values, roots = ends.values, ends.signed_root_deviance
    assert np.all(np.diff(values) > 0)
    assert np.all(np.diff(roots) > 0)  # r is increasing in σ
    assert roots[np.argmin(np.abs(values - spread))] == 0.0
    for end, target in ((ends.lower, -quantile), (ends.upper, quantile)):
        assert roots[np.argmin(np.abs(values - end))] == pytest.approx(target, abs=1e-8)
    # Each point's r from the log-likelihood written here (μ̂ = ȳ at every σ).
    top = stats.norm.logpdf(SAMPLE, SAMPLE.mean(), spread).sum()
    by_hand = [
        np.sign(s - spread)
        * np.sqrt(max(0.0, 2 * (top - stats.norm.logpdf(SAMPLE, SAMPLE.mean(), s).sum())))
        for s in values
    ]
    np.testing.assert_allclose(roots, by_hand, atol=1e-7)
    dataset = ends.dataset("sigma")
    np.testing.assert_array_equal(dataset["value"], values)
    assert dataset.attrs["param"] == "sigma"
    assert (dataset.attrs["lower"], dataset.attrs["upper"]) == (ends.lower, ends.upper)
    assert dataset.attrs["lower_at_boundary"] == 0


def test_a_variance_whose_likelihood_stays_flat_to_zero_ends_at_the_edge():
    """One draw y ~ N(0, 1 + τ²): τ̂² = y² − 1, and 2(ℓ̂ − ℓ(0)) < q², so the interval's
    lower end is τ = 0 itself; the upper end is Brent's."""
    y = 1.2
    with pm.Model() as model:
        tau = pm.HalfNormal("tau", 5.0)
        pm.Normal("y", 0.0, pm.math.sqrt(1 + tau**2), observed=[y])
    estimate, quantile = np.sqrt(y**2 - 1), stats.norm.ppf(0.975)
    ends = profiler(model, {"tau": estimate}).profile(0, quantile, ("tau", 0))

    def log_likelihood(tau):
        return stats.norm.logpdf(y, 0.0, np.sqrt(1 + tau**2))

    assert 2 * (log_likelihood(estimate) - log_likelihood(0.0)) < quantile**2
    upper = optimize.brentq(
        lambda tau: 2 * (log_likelihood(estimate) - log_likelihood(tau)) - quantile**2,
        estimate,
        100.0,
        xtol=1e-13,
    )
    assert (ends.lower, ends.lower_at_boundary) == (0.0, True)
    assert (ends.upper, ends.upper_at_boundary) == (pytest.approx(upper, rel=1e-8), False)


def _dirichlet():
    pm.Dirichlet("w", np.ones(3))


def _ordered():
    pm.Normal("cut", 0, 1, shape=2, transform=pm.distributions.transforms.ordered)


def _uniform_with_a_free_bound():
    low = pm.Normal("low", 0, 1)
    pm.Uniform("x", lower=low, upper=low + 2)


def _elementwise():
    pm.HalfNormal("scale", 1.0)
    pm.Beta("rate", 2.0, 2.0)
    pm.Uniform("share", 0.0, 1.0)
    pm.Normal("location", 0.0, 1.0)


@pytest.mark.parametrize(
    ("build", "names", "message"),
    [
        (_dirichlet, {"w"}, r"w: its transform \(SimplexTransform\) couples its entries"),
        (_ordered, {"cut"}, r"cut: its transform \(Ordered\) couples its entries"),
        (_uniform_with_a_free_bound, {"low", "x"}, "x: its bounds are parameters of the model"),
        (_dirichlet, set(), None),  # not profiled: not checked
        (_elementwise, {"scale", "rate", "share", "location"}, None),
    ],
    ids=["simplex", "ordered", "free-bound", "not-named", "elementwise"],
)
def test_only_elementwise_coordinates_can_be_profiled(build, names, message):
    with pm.Model() as model:
        build()
    if message is None:
        require_profilable(model, names)
    else:
        with pytest.raises(UnsupportedModelError, match=message + r".*Use ci='wald'"):
            require_profilable(model, names)
