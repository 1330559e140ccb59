"""reporting/verdicts.py: the plain-words readings of k̂ and of a comparison with NUTS, at and
around their thresholds, and the numbers behind them (means' gaps in reference sds, sd ratios,
their Monte Carlo error) against the draws themselves."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from pmfisher.reporting.verdicts import (
    SD_RATIO_AGREEMENT,
    Z_GAP_AGREEMENT,
    comparison_summary,
    comparison_verdict,
    element_agreement,
    inner_check_summary,
    khat_verdict,
    scalar_agreement,
)

RNG = np.random.default_rng(11)


@pytest.mark.parametrize(
    ("pareto_k", "opening"),
    [
        (-np.inf, "Good: k̂ = −∞ (the log-density is exactly Gaussian) < 0.5"),
        (0.3, "Good: k̂ = 0.30 < 0.5"),
        (0.6, "Usable: k̂ = 0.60 is between 0.5 and 0.70"),
        (0.8, "Unreliable: k̂ = 0.80 ≥ 0.70"),
        (1.4, "Unreliable: k̂ = 1.40 ≥ 1, so the importance ratios"),
        (np.nan, "Unknown: k̂ could not be estimated"),  # once read "Good"
    ],
)
def test_khat_in_plain_words(pareto_k, opening):
    assert khat_verdict(pareto_k, 0.7).startswith(opening)


def _table(z_gap, sd_ratio):
    return xr.Dataset(
        {"z_gap": ("param", z_gap), "sd_ratio": ("param", sd_ratio)},
        coords={"param": ["a", "b"]},
    )


@pytest.mark.parametrize(
    ("z_gap", "sd_ratio", "opening", "where"),
    [
        ([0.1, -0.2], [1.1, 0.9], "Agree", "largest |z_gap| 0.20, at b"),
        ([0.1, -0.3], [1.0, 1.0], "Disagree", "0.30 NUTS sds (at b)"),
        ([0.1, 0.0], [1.0, 0.7], "Disagree", "a factor 1.43 (at b)"),  # 1/0.7: too narrow
        ([0.1, 0.0], [1.3, 1.0], "Disagree", "a factor 1.30 (at a)"),
        (
            [Z_GAP_AGREEMENT - 1e-9, 0.0],
            [SD_RATIO_AGREEMENT - 1e-9, 1.0],
            "Agree",
            "within 0.25 NUTS sds",
        ),
    ],
)
def test_a_comparison_in_plain_words(z_gap, sd_ratio, opening, where):
    verdict = comparison_verdict(_table(z_gap, sd_ratio))
    assert verdict.startswith(opening)
    assert where in verdict


def test_the_comparison_summary_is_plain_numbers():
    table = _table([0.1, -0.4], [1.2, 0.8]).assign(
        pareto_k=0.45,
        mahalanobis=0.5,
        gaussian_kl=0.02,
        joint_coverage=("interval_prob", [0.49, 0.9, 0.96]),
        interval_prob=[0.5, 0.9, 0.95],
    )
    assert comparison_summary(table) == {
        "pareto_k": 0.45,
        "max_abs_z_gap": 0.4,
        "max_sd_ratio": 1.2,
        "min_sd_ratio": 0.8,
        "mahalanobis": 0.5,
        "gaussian_kl": 0.02,
        "joint_coverage": {"0.5": 0.49, "0.9": 0.9, "0.95": 0.96},
        "z_gap": {"a": 0.1, "b": -0.4},
        "sd_ratio": {"a": 1.2, "b": 0.8},
    }
    assert "pareto_k" not in comparison_summary(table.drop_vars("pareto_k"))


def _tree(**variables):
    return xr.DataTree.from_dict({"posterior": xr.Dataset(variables)})


@pytest.fixture(scope="module")
def posteriors():
    approx = _tree(
        mu=(("chain", "draw"), RNG.normal(1.0, 2.0, (1, 800))),
        z=(("chain", "draw", "group"), RNG.normal([0.0, 1.0, 2.0], 1.0, (1, 800, 3))),
    )
    reference = _tree(
        mu=(("chain", "draw"), RNG.normal(1.3, 2.5, (2, 400))),
        z=(("chain", "draw", "group"), RNG.normal([0.2, 1.0, 1.5], 0.5, (2, 400, 3))),
    )
    return approx, reference


def test_scalar_agreement_against_the_draws(posteriors):
    approx, reference = posteriors
    found = scalar_agreement(approx, reference, ["mu"])
    a, r = (tree["posterior"]["mu"].values.ravel() for tree in posteriors)
    assert found["z_gap"]["mu"] == pytest.approx((a.mean() - r.mean()) / r.std(ddof=1), rel=1e-12)
    assert found["sd_ratio"]["mu"] == pytest.approx(a.std(ddof=1) / r.std(ddof=1), rel=1e-12)
    ess_a, ess_r = (float(az.ess(tree, var_names=["mu"])["mu"]) for tree in posteriors)
    assert found["z_gap_mcse"]["mu"] == pytest.approx(np.sqrt(1 / ess_a + 1 / ess_r), rel=1e-12)


def test_element_agreement_against_the_draws(posteriors):
    approx, reference = posteriors
    found = element_agreement(approx, reference, "z")
    a, r = (tree["posterior"]["z"].values.reshape(-1, 3) for tree in posteriors)
    gaps = np.abs(a.mean(0) - r.mean(0)) / r.std(0, ddof=1)
    ratios = a.std(0, ddof=1) / r.std(0, ddof=1)
    assert found["elements"] == 3
    assert found["max_abs_z_gap"] == pytest.approx(gaps.max(), rel=1e-12)
    assert found["mean_abs_z_gap"] == pytest.approx(gaps.mean(), rel=1e-12)
    assert found["min_sd_ratio"] == pytest.approx(ratios.min(), rel=1e-12)
    assert found["median_sd_ratio"] == pytest.approx(np.median(ratios), rel=1e-12)
    assert found["max_sd_ratio"] == pytest.approx(ratios.max(), rel=1e-12)
    ess = az.ess(reference, var_names=["z"])["z"].values
    assert found["reference_min_ess"] == pytest.approx(ess.min(), rel=1e-12)


@pytest.mark.parametrize("method", ["per group", None])
def test_the_inner_check_summary(method):
    error = xr.DataArray([0.01, 0.05, 0.02], dims="check")
    if method is not None:
        error.attrs["method"] = method
    fit = xr.Dataset(
        {
            "inner_check_error": error,
            "inner_check_mcse": ("check", [0.001, 0.002, 0.001]),
            "inner_check_pareto_k": ("check", [0.1, 0.2, 0.3]),
        }
    )
    found = inner_check_summary(xr.DataTree.from_dict({"fit": fit}))
    assert found == {
        "inner_check_error": [0.01, 0.05, 0.02],
        "inner_check_mcse": [0.001, 0.002, 0.001],
        "inner_check_pareto_k": [0.1, 0.2, 0.3],
        "inner_check_error_spread": pytest.approx(0.04, rel=1e-12),
        "inner_check_method": method or "joint",
    }
