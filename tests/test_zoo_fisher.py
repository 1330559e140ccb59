"""The zoo's Monte Carlo Fisher information checked for correctness, not only finiteness:
against the closed form within its Monte Carlo standard error, the two estimators against
each other, and the chunked average against the simulated data sets it saw."""

import numpy as np
import pytest

import pmfisher
from pmfisher._core.data.data_likelihood import DataLikelihood
from tests.zoo import ROWS, model_for

SPACES = ("constrained", "unconstrained")
ESTIMATORS = ("score_covariance", "negative_hessian")
# Simulated data sets per check: enough for the MCSE to be estimated within ~10%.
REPLICATES = 400
# Standard errors a Monte Carlo entry may stray from its expectation: with a few dozen
# entries per row, |z| > 4.5 has probability below 1e-4 (the seeds are fixed anyway).
Z = 4.5
# Data-free Hessian entries are compared with the closed form to rounding.
RTOL = 1e-10

# Rows whose likelihood has a closed-form Fisher information (information.exact_fisher):
# a count, a proportion, a Gamma GLM, Student-t with unknown ν, a zero-sum vector (whose
# constrained space is its free coordinates).
EXACT_ROWS = ["scalar", "binomial", "gamma_glm", "student_t", "zero_sum_normal"]


def _monte_carlo(name, space, replicates=REPLICATES):
    return pmfisher.fisher_information(
        ROWS[name].point,
        model=model_for(name),
        space=space,
        method="monte_carlo",
        replicates=replicates,
        random_seed=1,
        progressbar=False,
    )


def _within_mcse(estimate, se, expected):
    """Each entry within ``Z`` Monte Carlo standard errors of ``expected``; an entry without
    Monte Carlo error (a data-free Hessian) equal to it up to rounding."""
    scale = np.abs(expected).max()
    random = se > 1e-12 * scale
    np.testing.assert_allclose(estimate[~random], expected[~random], rtol=RTOL, atol=RTOL * scale)
    z = np.abs(estimate[random] - expected[random]) / se[random]
    assert z.size == 0 or z.max() < Z, f"{z.max():.1f} standard errors from the closed form"


@pytest.mark.parametrize(("name", "space"), [(n, s) for n in EXACT_ROWS for s in SPACES])
def test_monte_carlo_fisher_information_equals_the_closed_form_within_its_mcse(name, space):
    """Both Monte Carlo estimators, E[ssᵀ] and −E[∇²ℓ], are unbiased for the exact
    information: each entry lies within Z of its MCSE of ``method="exact"``."""
    exact = pmfisher.fisher_information(
        ROWS[name].point, model=model_for(name), space=space, method="exact"
    ).matrix.values
    mc = _monte_carlo(name, space)
    assert mc.method == "monte_carlo"
    assert mc.replicates == REPLICATES
    for estimator in ESTIMATORS:
        _within_mcse(getattr(mc, estimator).values, mc.mcse[estimator].values, exact)
    chosen = mc.matrix.attrs["estimator"]
    np.testing.assert_array_equal(mc.matrix.values, getattr(mc, chosen).values)
    np.testing.assert_array_equal(mc.mcse["matrix"].values, mc.mcse[chosen].values)


def test_monte_carlo_standard_errors_are_the_closed_form_ones():
    """Poisson(λ), one observation, in λ: ℓ = y log λ − λ, so −∇²ℓ = y/λ² has variance
    1/λ³ and s² = (y − λ)²/λ² has variance (λ + 2λ²)/λ⁴ (the Poisson's fourth central
    moment is λ + 3λ²). The MCSE of each is its standard deviation over √replicates; one too
    large would let the checks above pass anything."""
    lam = ROWS["scalar"].point["lam"]
    mc = _monte_carlo("scalar", "constrained")
    np.testing.assert_allclose(
        mc.mcse["negative_hessian"].values, [[np.sqrt(1 / lam**3 / REPLICATES)]], rtol=0.15
    )
    np.testing.assert_allclose(
        mc.mcse["score_covariance"].values,
        [[np.sqrt((lam + 2 * lam**2) / lam**4 / REPLICATES)]],
        rtol=0.25,
    )
    # The Hessian's variance is the smaller (1/λ³ < (λ + 2λ²)/λ⁴): it is the estimate.
    assert mc.matrix.attrs["estimator"] == "negative_hessian"


@pytest.mark.parametrize("name", ["scalar", "binomial"])
def test_monte_carlo_takes_the_estimator_without_monte_carlo_error(name):
    """In the log-rate of a Poisson and the log-odds of a Binomial (natural parameters) the
    log-likelihood's Hessian does not depend on the data: −E[∇²ℓ] is exact at any number of
    replicates and has zero MCSE, while E[ssᵀ] varies. The reported matrix must be the former,
    equal to the closed form up to rounding."""
    point, model = ROWS[name].point, model_for(name)
    exact = pmfisher.fisher_information(point, model=model, space="unconstrained", method="exact")
    mc = _monte_carlo(name, "unconstrained", replicates=32)
    assert mc.matrix.attrs["estimator"] == "negative_hessian"
    np.testing.assert_allclose(mc.mcse["matrix"].values, 0.0, atol=1e-14)
    assert np.all(mc.mcse["score_covariance"].values > 0)
    np.testing.assert_allclose(mc.matrix.values, exact.matrix.values, rtol=1e-12)


def test_multinomial_monte_carlo_information_is_the_textbook_one():
    """Multinomial(n, p) over the free coordinates p₁ … p_{K−1} (the last one implied):
    I = n (diag(1/p) + 11ᵀ/p_K), which the exact method does not cover."""
    p, trials = np.asarray(ROWS["dirichlet_multinomial"].point["p"]), 20
    textbook = trials * (np.diag(1 / p[:-1]) + 1 / p[-1])
    mc = _monte_carlo("dirichlet_multinomial", "constrained")
    assert list(mc.matrix["param_i"].values) == ["p[0]", "p[1]"]
    for estimator in ESTIMATORS:
        _within_mcse(getattr(mc, estimator).values, mc.mcse[estimator].values, textbook)


# Rows whose likelihood has no closed form (and whose forward graphs are cheap to compile).
# The LKJ row is left out: its Monte Carlo graphs take minutes to compile; its observed
# information and tensor law are checked in the other zoo files.
NO_CLOSED_FORM = ["dirichlet_multinomial", "censored_normal", "hurdle_poisson"]


@pytest.mark.parametrize(("name", "space"), [(n, s) for n in NO_CLOSED_FORM for s in SPACES])
def test_the_two_monte_carlo_estimators_agree(name, space):
    """E[ssᵀ] = −E[∇²ℓ] (the information equality) on each row: the two averages over the
    same simulated data sets agree within their paired MCSE. A wrong score, a Hessian of
    the wrong sign or a mislabelled estimator breaks it."""
    mc = _monte_carlo(name, space)
    assert mc.max_standardized_difference < 4.0
    outer, hessian = mc.score_covariance.values, mc.negative_hessian.values
    # Unpaired, and so conservative: each within Z of the other's combined error.
    se = np.hypot(mc.mcse["score_covariance"].values, mc.mcse["negative_hessian"].values)
    assert np.all(np.abs(outer - hessian) < Z * se + 1e-12 * np.abs(hessian).max())
    assert np.all(np.linalg.eigvalsh(mc.matrix.values) > 0)


@pytest.mark.parametrize("name", ["potential", "custom_dist", "discrete_free_variable"])
def test_monte_carlo_fisher_information_says_why_not(name):
    kind, words = ROWS[name].errors["fisher"]
    with pytest.raises(kind, match=words):
        _monte_carlo(name, "constrained", replicates=8)


def test_every_simulated_data_set_is_averaged_once_over_uneven_chunks(monkeypatch):
    """41 replicates go in chunks of ⌈41/20⌉ = 3: thirteen full chunks and one of 2. The
    estimates are the plain averages (and standard deviations over √41) of exactly the
    41 data sets' scores and Hessians — none dropped by rounding the chunk count down, none
    counted twice."""
    seen = []
    original = DataLikelihood.logp_grad_hessian

    def spy(self, theta_batch, data):
        logp, grad, hessian = original(self, theta_batch, data)
        seen.append((np.array(grad), np.array(hessian)))
        return logp, grad, hessian

    monkeypatch.setattr(DataLikelihood, "logp_grad_hessian", spy)
    mc = _monte_carlo("binomial", "constrained", replicates=41)
    assert [len(grad) for grad, _ in seen] == [3] * 13 + [2]
    grads = np.concatenate([grad for grad, _ in seen])
    outer = grads[:, :, None] * grads[:, None, :]
    negative_hessians = -np.concatenate([hessian for _, hessian in seen])
    per_estimate = {"score_covariance": outer, "negative_hessian": negative_hessians}
    for estimate, per_draw in per_estimate.items():
        np.testing.assert_allclose(getattr(mc, estimate).values, per_draw.mean(0), rtol=1e-12)
        se = per_draw.std(0, ddof=1) / np.sqrt(41)
        np.testing.assert_allclose(mc.mcse[estimate].values, se, rtol=1e-12)
    # Each chunk has a seed of its own: no two chunks simulated the same data sets.
    assert len({tuple(grad.ravel()) for grad, _ in seen}) == len(seen)
