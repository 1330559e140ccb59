"""inference/wald.py: the covariance a singular information leaves (the inverse over the
directions it identifies, NaN on the rest), the normal quantile, and the Wald columns against
their closed forms."""

import re

import numpy as np
import pytest
from scipy import stats

from pmfisher.inference.wald import (
    Covariance,
    covariance_from_information,
    normal_quantile,
    wald_columns,
)

POSITIVE = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.2], [0.5, -0.2, 2.0]])


@pytest.mark.parametrize(
    ("information", "expected", "unidentified"),
    [
        # Positive definite: the inverse itself, every row identified.
        (np.diag([4.0, 0.25]), np.diag([0.25, 4.0]), [False, False]),
        (POSITIVE, np.linalg.inv(POSITIVE), [False, False, False]),
        # A zero row: its parameter has no variance, the other keeps 1/4.
        (np.diag([4.0, 0.0]), np.array([[0.25, np.nan], [np.nan, np.nan]]), [False, True]),
        # Two equal columns (β₁, β₂ enter as β₁ + β₂): both unidentified, the third is not,
        # and its variance is 1/2 as if the pair were absent.
        (
            np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]),
            np.array([[np.nan] * 3, [np.nan] * 3, [np.nan, np.nan, 0.5]]),
            [True, True, False],
        ),
    ],
    ids=["diagonal", "dense", "zero-row", "collinear"],
)
def test_the_covariance_is_the_inverse_over_the_identified_directions(
    information, expected, unidentified
):
    found = covariance_from_information(information, [f"p{k}" for k in range(len(information))])
    assert isinstance(found, Covariance)
    np.testing.assert_allclose(found.matrix, expected, rtol=1e-12, equal_nan=True)
    assert found.unidentified.tolist() == unidentified
    assert bool(found.reason) == any(unidentified)


def test_a_singular_information_says_which_parameters_and_why():
    found = covariance_from_information(
        np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]), ["b1", "b2", "a"]
    )
    # The null direction is (b1 − b2)/√2, up to its sign; the intercept is not on it.
    assert re.fullmatch(
        r"the information matrix is singular: eigenvalue 0 along b1 \(([+-])0\.71\), "
        r"b2 \((?!\1)[+-]0\.71\); these parameters have no standard error\.",
        found.reason,
    )


def test_an_indefinite_information_is_not_a_maximum():
    found = covariance_from_information(np.diag([2.0, -3.0]), ["a", "b"])
    assert found.unidentified.tolist() == [False, True]
    assert found.matrix[0, 0] == pytest.approx(0.5, rel=1e-15)
    assert "is not positive definite (smallest eigenvalue -3): the point is not a maximum" in (
        found.reason
    )


def test_an_asymmetric_input_is_read_by_its_symmetric_part():
    information = np.array([[2.0, 1.0], [0.0, 2.0]])  # symmetric part [[2, .5], [.5, 2]]
    found = covariance_from_information(information, ["a", "b"])
    np.testing.assert_allclose(found.matrix, np.linalg.inv([[2.0, 0.5], [0.5, 2.0]]), rtol=1e-14)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
def test_the_quantile_is_the_normals(level):
    assert normal_quantile(level) == pytest.approx(stats.norm.ppf(0.5 + level / 2), rel=1e-14)


@pytest.mark.parametrize(
    ("estimate", "se", "level"),
    [(1.0, 0.5, 0.95), (-2.3, 0.7, 0.9), (0.0, 1.0, 0.99), (1e-3, 2.0, 0.5)],
)
def test_the_wald_columns_are_the_closed_forms(estimate, se, level):
    columns = wald_columns(np.array([estimate]), np.array([se]), level)
    z = estimate / se
    quantile = stats.norm.ppf(0.5 + level / 2)
    assert columns["se"][0] == se
    assert columns["z"][0] == pytest.approx(z, rel=1e-15)
    assert columns["p"][0] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    assert columns["lower"][0] == pytest.approx(estimate - quantile * se, rel=1e-14)
    assert columns["upper"][0] == pytest.approx(estimate + quantile * se, rel=1e-14)


def test_the_wald_interval_of_a_poisson_rate():
    """One Poisson rate from n counts: J(λ̂) = n/λ̂, so λ̂ ± z·√(λ̂/n)."""
    counts = np.array([2, 4, 3, 5, 1, 0, 3])
    rate, n = counts.mean(), counts.size
    covariance = covariance_from_information(np.array([[n / rate]]), ["lam"])
    columns = wald_columns([rate], np.sqrt(np.diag(covariance.matrix)), 0.95)
    half = stats.norm.ppf(0.975) * np.sqrt(rate / n)
    np.testing.assert_allclose(
        [columns["lower"][0], columns["upper"][0]], [rate - half, rate + half]
    )


def test_a_row_without_a_standard_error_has_no_wald_numbers():
    columns = wald_columns(np.array([1.0, 2.0]), np.array([np.nan, 1.0]), 0.95)
    for key in ("se", "z", "p", "lower", "upper"):
        assert np.isnan(columns[key][0])
        assert np.isfinite(columns[key][1])
