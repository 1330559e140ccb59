"""Importance sampling: ``khat_threshold`` is min(1 − 1/log₁₀S, 0.7); ``psis`` keeps the ratios
below the Pareto tail, normalizes, recovers the tail index of Pareto-distributed ratios and
says −inf / +inf where the fit has nothing to fit; ``systematic_resample`` rounds S·w."""

import numpy as np
import pytest
from scipy import stats

from pmfisher.approximation.importance_sampling import (
    khat_threshold,
    pareto_ks,
    psis,
    systematic_resample,
)


@pytest.mark.parametrize(
    ("draws", "threshold"),
    [
        (1, 0.7),
        (10, 0.0),  # 1 − 1/1
        (100, 0.5),  # 1 − 1/2
        (1000, 1 - 1 / 3),
        (3162, 0.7 - 1e-5),  # log₁₀ 3162 = 3.49999: just under the cap
        (4000, 0.7),
        (10**6, 0.7),
    ],
)
def test_khat_threshold(draws, threshold):
    assert khat_threshold(draws) == pytest.approx(threshold, abs=2e-5)


def test_psis_keeps_the_ratios_below_the_tail_and_normalizes():
    log_ratios = np.random.default_rng(1).normal(0.0, 1.0, size=400)
    log_weights, pareto_k = psis(log_ratios)
    assert np.logaddexp.reduce(log_weights) == pytest.approx(0.0, abs=1e-12)
    # PSIS smooths the M = ceil(min(S/5, 3√S)) = 60 largest ratios only.
    tail = int(np.ceil(min(400 / 5, 3 * np.sqrt(400))))
    body = np.argsort(log_ratios)[:-tail]
    shift = log_weights[body] - log_ratios[body]
    np.testing.assert_allclose(shift, shift[0], rtol=0, atol=1e-12)
    # The normalizing constant: the body plus the smoothed tail sum to one.
    assert np.exp(shift[0]) == pytest.approx(
        1
        / (
            np.exp(log_ratios[body]).sum()
            + np.exp(log_weights[~np.isin(np.arange(400), body)] - shift[0]).sum()
        ),
        rel=1e-12,
    )
    assert np.isfinite(pareto_k)


def test_psis_is_arviz_stats_psislw_of_the_negated_ratios_to_the_last_bit():
    """pmfisher imports arviz-stats its own way (``pmfisher._core.first_use``) and smooths
    with its routine, unchanged: the same weights and k̂, bit for bit."""
    from arviz_stats.base import array_stats

    log_ratios = np.random.default_rng(5).normal(0.0, 1.0, size=4000)
    log_weights, pareto_k = psis(log_ratios)
    expected_weights, expected_k = array_stats.psislw(-log_ratios, r_eff=1.0)
    np.testing.assert_array_equal(log_weights, expected_weights)
    assert pareto_k == float(expected_k)
    assert 0.0 < pareto_k < 0.7


@pytest.mark.parametrize("tail_index", [0.3, 0.7, 1.2])
def test_psis_recovers_the_tail_index_of_pareto_ratios(tail_index):
    """Weights drawn from a Pareto distribution with shape 1/k have generalized Pareto tails
    with shape k; k̂'s standard error is about (1 + k)/√M for M tail draws."""
    draws = 40_000
    weights = stats.pareto(1 / tail_index).rvs(size=draws, random_state=7)
    _, pareto_k = psis(np.log(weights))
    tail = min(draws / 5, 3 * np.sqrt(draws))
    standard_error = (1 + tail_index) / np.sqrt(tail)
    assert abs(pareto_k - tail_index) < 3 * standard_error


def test_constant_ratios_give_uniform_weights_and_minus_infinity():
    log_weights, pareto_k = psis(np.full(50, 3.25))
    np.testing.assert_allclose(log_weights, -np.log(50), rtol=1e-15)
    assert pareto_k == -np.inf
    # Draws outside the support (log ratio −inf) get no weight; the rest share it evenly.
    ratios = np.full(50, 3.25)
    ratios[[4, 9]] = -np.inf
    log_weights, pareto_k = psis(ratios)
    assert np.all(log_weights[[4, 9]] == -np.inf)
    np.testing.assert_allclose(np.delete(log_weights, [4, 9]), -np.log(48), rtol=1e-15)
    assert pareto_k == -np.inf


def test_khat_of_log_ratios_beyond_float_range_is_infinite_not_nan():
    """A Laplace approximation of 10⁴ parameters has log ratios spread over thousands of
    nats: the tail weights underflow, arviz-stats' fit returns NaN, and k̂ must say +inf."""
    ratios = np.random.default_rng(0).normal(0.0, 1000.0, size=2000)
    log_weights, pareto_k = psis(ratios)
    assert pareto_k == np.inf
    assert np.isclose(np.logaddexp.reduce(log_weights), 0.0)  # still normalized
    assert np.isfinite(psis(ratios / 100)[1])  # a spread it can fit stays finite


def test_pareto_ks_is_psis_row_by_row():
    rng = np.random.default_rng(3)
    rows = np.stack(
        [
            rng.normal(size=300),
            np.log(stats.pareto(2.0).rvs(size=300, random_state=rng)),
            np.full(300, -1.5),
            rng.normal(0.0, 1000.0, size=300),
        ]
    )
    expected = [psis(row)[1] for row in rows]
    np.testing.assert_allclose(pareto_ks(rows), expected, rtol=1e-12)
    assert pareto_ks(rows)[2] == -np.inf
    assert pareto_ks(rows)[3] == np.inf
    assert pareto_ks(rows[0]) == pytest.approx(expected[0], rel=1e-12)


@pytest.mark.parametrize("size", [7, 100, 1001])
def test_systematic_resampling_draws_each_index_floor_or_ceil_of_its_share(size):
    probabilities = np.array([0.5, 0.05, 0.3, 0.0, 0.15])
    with np.errstate(divide="ignore"):
        log_weights = np.log(probabilities) + 4.0  # unnormalized
    indices = systematic_resample(log_weights, size, np.random.default_rng(size))
    counts = np.bincount(indices, minlength=5)
    share = size * probabilities
    assert counts.sum() == size
    assert counts[3] == 0
    assert np.all((counts == np.floor(share)) | (counts == np.ceil(share)))
