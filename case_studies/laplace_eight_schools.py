"""Laplace vs NUTS on eight schools: the case where the Gaussian fails, and k̂ says so.

Eight schools (Rubin, 1981): estimated coaching effects y_j with known standard errors
σ_j, a hierarchical model θ_j ~ N(μ, τ), μ ~ N(0, 5), τ ~ HalfCauchy(5). Eight noisy
observations cannot pin τ down, and the posterior of (θ, log τ) is the textbook funnel:
narrow where τ is small, wide where it is large. No single Gaussian describes a funnel.

* **Centred** (θ_j sampled directly). As τ → 0 with every θ_j = μ the log-posterior grows
  without bound (the prior density of the θ_j scales like τ⁻⁸): there is no posterior mode at
  all, so there is no Laplace approximation. ``find_mode`` says so, naming τ; NUTS samples it
  only with divergences.
* **Non-centred** (θ_j = μ + τ z_j, z_j ~ N(0, 1)). The mode exists, but the posterior is
  far from Gaussian in (μ, log τ, z): the mode of log τ sits well above where the posterior
  mass is, the curvature there is small, and the Gaussian puts mass on values of τ that
  NUTS never visits. The Pareto k̂ of the importance ratios is above 0.7 — the
  approximation is flagged unreliable before any comparison with NUTS — and the comparison
  confirms it: τ's mean is many NUTS sds off and its sd far too large.

Outputs, each prefixed with the script's name: ``marginals.png``, ``forest.png``,
``pair_ellipses.png`` (NUTS draws of (μ, log τ, z_A, z_B) with the Laplace ellipses),
``precision.png``, ``correlation.png``, ``khat.png``, and the numeric summary
``laplace_eight_schools.json``.

Run: ``python case_studies/laplace_eight_schools.py --out results/case_studies``
(``--full`` for the full-scale run).
"""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


from pmfisher import compare, laplace, plots
from pmfisher.errors import PMFisherError
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.datasets import eight_schools
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.verdicts import comparison_summary

NAME = Path(__file__).stem
SEED = 8


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws, chains = (300, 2) if smoke else (2000, 4)
    laplace_draws = 1000 if smoke else 8000

    # Centred: no mode, hence no Laplace approximation.
    centred_model = eight_schools(centred=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            laplace(model=centred_model, draws=laplace_draws, random_seed=SEED)
        centred_laplace = "exists"
    except PMFisherError as error:
        centred_laplace = str(error)
    # NUTS on the centred funnel only in the full run (its divergences are the point).
    centred_nuts = (
        None if smoke else sample_nuts(centred_model, draws=draws, chains=chains, seed=SEED)
    )

    # Non-centred: a mode, a Gaussian, and a k̂ that flags it.
    model = eight_schools(centred=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        approx = laplace(model=model, draws=laplace_draws, random_seed=SEED)
    khat_warned = any("Pareto k" in str(warning.message) for warning in caught)
    reference = sample_nuts(model, draws=draws, chains=chains, seed=SEED)
    table = compare(approx, reference, var_names=["mu", "tau", "z", "theta"])

    plots.save_laplace_figures(
        approx,
        reference,
        out,
        NAME,
        label="non-centred Laplace",
        marginal_vars=["mu", "tau", "theta"],
        forest_vars=["mu", "tau", "z"],
        pair_vars=["mu", "tau_log__", "z"],
        pair_coords={"school": ["A", "B"]},
    )

    summary = {
        "case": "eight schools, centred and non-centred",
        "smoke": smoke,
        "nuts_draws": draws * chains,
        "centred_laplace": centred_laplace,
        "centred_nuts_divergences": (
            None if centred_nuts is None else int(centred_nuts["sample_stats"]["diverging"].sum())
        ),
        "non_centred_nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        "khat_warned": khat_warned,
        "tau_mean_laplace": float(table["mean_approx"].sel(param="tau")),
        "tau_mean_nuts": float(table["mean_reference"].sel(param="tau")),
        **comparison_summary(table),
    }
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
