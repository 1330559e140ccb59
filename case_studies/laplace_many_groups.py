"""Laplace vs NUTS with 10,000 groups: the sparse route, and every margin close to NUTS.

Counts y_ij ~ Poisson(exp(θ_j + β x_ij)) in J = 10,000 groups of 10 rows, with centred group
effects θ_j ~ N(μ, τ) (the deterministic ``rate`` = exp θ), μ ~ N(0, 2), τ ~ HalfNormal(1),
β ~ N(0, 1); simulated with μ = 1.5, τ = 0.5, β = 0.3, so a group sees about 45 counts.
That is d = 10,003 parameters: a dense Hessian would be a 10,003² matrix from a batched
reverse pass over 100,000 rows, but each θ_j touches only its own rows and (μ, τ, β), so
``structure="auto"`` takes the sparse route: the pattern read from the graph, a handful of
colours, CHOLMOD for the Newton steps, the log-determinant and the draws, and a ``fit``
group holding the sparse precision (no d × d covariance). The figures read only what they
draw from it: a selection's block of H⁻¹, by solves against the sparse factor.

Why centred: with about 45 counts per group the data pin every θ_j down, the funnel of
(θ, τ) is gone and the log-posterior has an interior mode (in the non-centred form the joint
mode trades z for σ and puts σ far too high — a joint-mode artefact, not a curvature one).

What it shows, against NUTS. The full run (10,000 groups; NUTS warm-started from the Laplace
fit by ``sample_nuts(warm_start=...)``, 2 × 500 draws after 500 tuning steps each) took 24 s
for ``laplace`` (the sparse route, compiling included) and 5,195 s for NUTS (load 5–7 on the
2-core machine; no divergence, largest split R-hat 1.04, smallest bulk ESS of θ 1,375):

* **Every group agrees.** The means and sds of θ lie on the diagonal of the comparison
  figure: gaps at most 0.33 NUTS sds (mean 0.08), sd ratios 0.84–1.17 (median 0.99); the
  deterministic ``rate`` = exp θ the same (0.35 sds at most). β agrees (0.01 sds, sd ratio
  0.95).
* **τ comes out low, by 8.3 of its posterior sds** (0.464 against 0.497; μ 2.4 sds high).
  The Gaussian sits at the *joint* mode, where the scale of the effects is estimated from
  their conditional modes θ̂_j as if they were known: the spread Σ(θ̂_j − μ)² lacks the
  posterior variance of each θ_j (sd about 0.15 here, against τ = 0.5), a bias of a fixed
  relative size whatever J is. τ's posterior sd shrinks like 1/√J, so the gap in sds grows
  like √J: −0.97 sds on the 150-group smoke run, times √(10,000/150) = 8.2 gives −7.9, and
  −8.3 is what the full run measured. The remedy is to integrate θ out instead of
  maximizing over it: ``laplace(latent=["theta"], hyper="gaussian")`` on the same model and
  data (run once beside this script, not part of it: 765 s, compiling included, under the
  same load) puts τ 0.12 NUTS sds from NUTS's mean (0.4964 against 0.4969), μ 0.03 and β
  0.003 sds, with sd ratios 0.93–0.99 — at a seventh of NUTS's time.
* **k̂ judges the joint.** The log importance ratios add up the small non-Gaussian departures
  of every coordinate, so their spread grows with d: k̂ is 0.60 at 150 groups and 4.7 at
  10,000. The Gaussian is good for every summary read off a group's margin, and no
  importance-sampling proposal for the joint.

Outputs, each prefixed with the script's name: ``marginals.png`` and ``forest.png`` (μ, τ,
β), ``pair_ellipses.png`` (μ, log τ, β and two groups' θ, in the unconstrained space),
``precision.png`` and ``correlation.png`` (a selection of parameters: the block of H, and
the correlations of the block of H⁻¹), ``khat.png``, ``group_effects.png`` (all group means
and sds, Laplace against NUTS); and the summary ``laplace_many_groups.json`` with the
seconds each took (Laplace's first call includes compiling).

Run: ``python case_studies/laplace_many_groups.py --out results/case_studies``
(150 groups, 2 × 300 NUTS draws; ``--full``: 10,000 groups, 2 × 500 draws, about 1.5 hours
on a shared 2-core machine: ``benchmarks/case_studies.py``).
"""

import json
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import arviz as az
import numpy as np
import pymc as pm

from pmfisher import compare, laplace, plots
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.verdicts import comparison_summary, element_agreement

NAME = Path(__file__).stem
SEED = 12
ROWS_PER_GROUP = 10
SHARED = ["mu", "tau", "beta"]
GROUP_EFFECTS = ["theta", "rate"]


def build_model(groups: int) -> pm.Model:
    rng = np.random.default_rng(SEED)
    group = np.repeat(np.arange(groups), ROWS_PER_GROUP)
    x = rng.normal(size=group.size)
    y = rng.poisson(np.exp(0.3 * x + rng.normal(1.5, 0.5, size=groups)[group]))
    with pm.Model(coords={"group": [f"g{j:05d}" for j in range(groups)]}) as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        tau = pm.HalfNormal("tau", 1.0)
        beta = pm.Normal("beta", 0.0, 1.0)
        theta = pm.Normal("theta", mu, tau, dims="group")
        rate = pm.Deterministic("rate", pm.math.exp(theta), dims="group")
        pm.Poisson("y", rate[group] * pm.math.exp(beta * x), observed=y)
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = 150 if smoke else 10_000
    draws, chains = (300, 2) if smoke else (500, 2)
    model = build_model(groups)

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        approx = laplace(model=model, draws=1000 if smoke else 2000, random_seed=SEED)
    laplace_seconds = time.perf_counter() - start
    start = time.perf_counter()
    # Started from the Laplace fit: PyMC's unit start would spend its first tuning windows
    # on β's scale (sd 0.0015) with trajectories a thousand steps long.
    reference = sample_nuts(model, draws=draws, chains=chains, seed=SEED, warm_start=approx)
    nuts_seconds = time.perf_counter() - start

    shown = list(model.coords["group"][:2])
    plots.save_laplace_figures(
        approx,
        reference,
        out,
        NAME,
        label=f"Laplace ({groups} groups)",
        marginal_vars=SHARED,
        forest_vars=SHARED,
        pair_vars=["mu", "tau_log__", "beta", "theta"],
        pair_coords={"group": shown},
    )
    plots.plot_group_comparison(
        approx,
        reference,
        var_names=GROUP_EFFECTS,
        names=("Laplace", "NUTS"),
        path=out / f"{NAME}_group_effects.png",
    )

    summary = {
        "case": f"Poisson counts with {groups} centred group effects",
        "smoke": smoke,
        "groups": groups,
        "parameters": int(approx["fit"].sizes["param"]),
        "structure": approx.attrs["structure"],
        "fit_holds_covariance": "covariance_matrix" in approx["fit"],
        "laplace_seconds": round(laplace_seconds, 1),
        "nuts_seconds": round(nuts_seconds, 1),
        "nuts_draws": draws * chains,
        "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        # The chains start at the Laplace fit's mean: split R-hat says whether they drifted.
        "nuts_max_rhat": max(
            float(az.rhat(reference, var_names=[name])[name].max()) for name in [*SHARED, "theta"]
        ),
        "khat_warned": any("Pareto k̂" in str(warning.message) for warning in caught),
        **comparison_summary(compare(approx, reference, var_names=SHARED)),
        "group_effects": {
            name: element_agreement(approx, reference, name) for name in GROUP_EFFECTS
        },
    }
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
