"""Plain-words readings of the numbers a report shows: the Pareto :math:`\\hat k` of a Laplace
approximation and a comparison with a reference posterior."""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

from pmfisher.approximation.compare import compare
from pmfisher.reporting.plot_data import element_moments

__all__ = [
    "SD_RATIO_AGREEMENT",
    "Z_GAP_AGREEMENT",
    "comparison_summary",
    "comparison_verdict",
    "element_agreement",
    "inner_check_summary",
    "khat_verdict",
    "scalar_agreement",
]

# Laplace and NUTS "agree" when every mean is within this many reference sds ...
Z_GAP_AGREEMENT = 0.25
# ... and every sd ratio within this factor of 1.
SD_RATIO_AGREEMENT = 1.25


def khat_verdict(pareto_k: float, threshold: float) -> str:
    r"""A plain-words reading of the Laplace approximation's Pareto :math:`\hat k`, against
    ``threshold`` (:func:`~pmfisher.approximation.importance_sampling.khat_threshold` of the
    number of draws).

    Examples
    --------
    >>> khat_verdict(0.2, 0.7).split(":")[0]
    'Good'
    >>> khat_verdict(0.9, 0.7).split(":")[0]
    'Unreliable'
    """
    if np.isnan(pareto_k):
        return (
            "Unknown: k̂ could not be estimated (the importance ratios are not finite or too "
            "few), so nothing is known about the Gaussian's tails; run NUTS (--nuts)."
        )
    if pareto_k < 0.5:
        shown = (
            "−∞ (the log-density is exactly Gaussian)"
            if np.isneginf(pareto_k)
            else (f"{pareto_k:.2f}")
        )
        return (
            f"Good: k̂ = {shown} < 0.5, so the Gaussian is close to the posterior, tails "
            "included; the Laplace summary can be used as it is."
        )
    if pareto_k < threshold:
        return (
            f"Usable: k̂ = {pareto_k:.2f} is between 0.5 and {threshold:.2f}, so the tails differ "
            "somewhat; importance sampling (laplace(importance_sampling='psis')) corrects the "
            "moments, and a NUTS comparison (--nuts) is worth a look."
        )
    if pareto_k < 1:
        return (
            f"Unreliable: k̂ = {pareto_k:.2f} ≥ {threshold:.2f}, so the Gaussian is far from "
            "the posterior in the tails and importance sampling cannot repair it; do not use "
            "the Laplace summary, run NUTS (--nuts)."
        )
    return (
        f"Unreliable: k̂ = {pareto_k:.2f} ≥ 1, so the importance ratios posterior / Gaussian "
        "have no finite mean: the Gaussian misses the posterior's mass; run NUTS (--nuts)."
    )


def comparison_verdict(table: xr.Dataset) -> str:
    """A plain-words reading of a :func:`~pmfisher.compare` table."""
    z_gap = np.abs(table["z_gap"].to_series())
    ratio = table["sd_ratio"].to_series()
    off = np.maximum(ratio, 1 / ratio)
    worst_mean, worst_sd = z_gap.idxmax(), off.idxmax()
    if z_gap.max() < Z_GAP_AGREEMENT and off.max() < SD_RATIO_AGREEMENT:
        return (
            f"Agree: every mean is within {Z_GAP_AGREEMENT} NUTS sds of NUTS (largest "
            f"|z_gap| {z_gap.max():.2f}, at {worst_mean}) and every sd within a factor "
            f"{SD_RATIO_AGREEMENT} (largest {off.max():.2f}, at {worst_sd}): the Laplace "
            "picture is good enough for this model."
        )
    return (
        f"Disagree: the largest mean gap is {z_gap.max():.2f} NUTS sds (at {worst_mean}) and "
        f"the largest sd ratio a factor {off.max():.2f} (at {worst_sd}); beyond "
        f"{Z_GAP_AGREEMENT} sds or a factor {SD_RATIO_AGREEMENT} the Laplace picture is not "
        "good enough for this model: use the NUTS posterior."
    )


def comparison_summary(table: xr.Dataset) -> dict:
    """The headline numbers of a :func:`~pmfisher.compare` table as plain Python values
    (for JSON): k̂ when present, the largest gaps, the joint summaries, and per parameter
    ``z_gap`` and ``sd_ratio``."""
    z_gap = table["z_gap"].to_series()
    sd_ratio = table["sd_ratio"].to_series()
    summary = {"pareto_k": float(table["pareto_k"])} if "pareto_k" in table else {}
    return summary | {
        "max_abs_z_gap": float(np.abs(z_gap).max()),
        "max_sd_ratio": float(sd_ratio.max()),
        "min_sd_ratio": float(sd_ratio.min()),
        "mahalanobis": float(table["mahalanobis"]),
        "gaussian_kl": float(table["gaussian_kl"]),
        "joint_coverage": {
            f"{p:g}": float(v)
            for p, v in zip(
                table["interval_prob"].values, table["joint_coverage"].values, strict=True
            )
        },
        "z_gap": {str(k): float(v) for k, v in z_gap.items()},
        "sd_ratio": {str(k): float(v) for k, v in sd_ratio.items()},
    }


def scalar_agreement(approx: xr.DataTree, reference: xr.DataTree, var_names) -> dict:
    r"""Per scalar variable of ``var_names``: the gap of the posterior means in reference sds
    (``z_gap``), the ratio of the sds, and the Monte Carlo sd of that gap,
    :math:`\sqrt{1/\mathrm{ESS}_{\text{ref}} + 1/\mathrm{ESS}_{\text{approx}}}` (both means
    carry Monte Carlo error; the tolerance a comparison should scale with)."""
    table = compare(approx, reference, var_names=var_names)
    reference_ess, approx_ess = (_min_ess(tree, var_names) for tree in (reference, approx))
    return {
        "z_gap": {var: float(table["z_gap"].sel(param=var)) for var in var_names},
        "sd_ratio": {var: float(table["sd_ratio"].sel(param=var)) for var in var_names},
        "z_gap_mcse": {
            var: float(np.sqrt(1 / reference_ess[var] + 1 / approx_ess[var])) for var in var_names
        },
    }


def element_agreement(approx: xr.DataTree, reference: xr.DataTree, name: str) -> dict:
    """How the per-element posterior means and sds of one vector variable (group effects)
    compare: gaps of the means in reference sds, ratios of the sds, and the reference's
    smallest effective sample size (what the gaps' Monte Carlo error depends on)."""
    (approx_mean, approx_sd), (reference_mean, reference_sd) = (
        element_moments(tree, name, role)
        for tree, role in ((approx, "approximation"), (reference, "reference"))
    )
    gaps, ratios = np.abs(approx_mean - reference_mean) / reference_sd, approx_sd / reference_sd
    return {
        "elements": int(gaps.size),
        "max_abs_z_gap": float(gaps.max()),
        "mean_abs_z_gap": float(gaps.mean()),
        "min_sd_ratio": float(ratios.min()),
        "median_sd_ratio": float(np.median(ratios)),
        "max_sd_ratio": float(ratios.max()),
        "reference_min_ess": _min_ess(reference, [name])[name],
    }


def inner_check_summary(approx: xr.DataTree) -> dict:
    """The inner check of a nested Laplace fit (:func:`~pmfisher.laplace` with ``latent``):
    the error of the Laplace marginal at each checked φ, its Monte Carlo sd and Pareto k̂, and
    the spread of the errors — what moves the posterior of φ is how the error changes with
    φ, not its level — and which check ran."""
    fit = approx["fit"]
    errors = fit["inner_check_error"].values
    return {
        "inner_check_error": errors.tolist(),
        "inner_check_mcse": fit["inner_check_mcse"].values.tolist(),
        "inner_check_pareto_k": fit["inner_check_pareto_k"].values.tolist(),
        "inner_check_error_spread": float(errors.max() - errors.min()),
        # "per group", "joint" or "exact: Gaussian conditional" (then k̂ is NaN: nothing was
        # sampled); approximation/nested_laplace.py
        "inner_check_method": fit["inner_check_error"].attrs.get("method", "joint"),
    }


def _min_ess(tree: xr.DataTree, var_names) -> dict[str, float]:
    ess = az.ess(tree, var_names=list(var_names))
    return {var: float(np.min(ess[var].values)) for var in var_names}
