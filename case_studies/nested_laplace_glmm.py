"""A Bernoulli GLMM with 2,000 groups: the random intercepts integrated out by Laplace.

Yes/no outcomes in J = 2,000 groups of 8 rows, ``y_ij ~ Bernoulli(logit⁻¹(α + β x_ij + b_j))``,
with random intercepts ``b_j = σ z_j``, ``z_j ~ N(0, 1)``: the model ``glmer`` fits by Laplace
(lme4's default), written in PyMC as it comes. ``laplace(latent="z")`` integrates the 2,000
intercepts out given φ = (α, β, σ), on the sparse route (the latent Hessian is diagonal), in
two ways:

* ``hyper="gaussian"``: the Gaussian at the marginal mode of φ (what TMB's ``sdreport`` and
  ``glmer`` report), and each ``z`` given each draw of φ;
* ``hyper="nuts"``: PyMC's NUTS on the three-dimensional Laplace marginal, then ``z`` given φ.

The reference is NUTS on the whole model (2,003 parameters). With eight binary outcomes per
group a group's conditional density of ``z_j`` is far from Gaussian in its tails but close to
it in its bulk; the Laplace marginal is then slightly off (the known small downward bias of
Laplace for the variance of binary random effects), and the inner check measures by how much
and how the error changes with φ.

Measured (full run, 2,000 groups; NUTS on the whole model 4 × 1,000 draws, 381 s; each
nested method 4,000 draws, first call with compiling):

* **The intercepts agree**: every one of the 2,000 within 0.18 NUTS sds (mean 0.06), sd
  ratios 0.89–1.05, with either method; α and β within 0.07 sds.
* **σ comes out low by 0.89 posterior sds** with both methods (its sd ratio 0.97–0.98): the
  known downward bias of Laplace for the variance of binary random effects. It is a fixed
  bias per group, so against a posterior sd that shrinks like 1/√J it grows with the number
  of groups (−0.29 to −0.35 sds at the smoke run's 100 groups).
* **The inner check says so**: the Laplace marginal is 13–16 nats below the exact one
  (about 0.007 a group) and its k̂ is 0.67–1.04 — with 2,000 dimensions the importance
  weights are heavy-tailed and it warns that the check itself is unreliable.
* **Time**: ``hyper="gaussian"`` 103 s (3.7× faster than NUTS), ``hyper="nuts"`` 467 s
  (0.8×: a Newton solve over 2,000 intercepts at every leapfrog step costs more here than
  PyMC's NUTS on the whole model, which mixes well in the non-centred form).

Outputs: ``nested_laplace_glmm_pair.png`` (pair plot of (α, β, log σ): NUTS draws on the
whole model with the nested approximation's ellipses), ``nested_laplace_glmm.png``
(marginals of α, β, σ and two intercepts, NUTS on the marginal against NUTS on the whole
model), ``nested_laplace_glmm_groups.png`` (every intercept's posterior mean and sd, nested
against NUTS), ``nested_laplace_glmm_gaussian_groups.png`` (the same for ``hyper="gaussian"``)
and ``nested_laplace_glmm.json`` with each method's seconds (first call, compiling
included).

Run: ``python case_studies/nested_laplace_glmm.py --out results/case_studies``
(100 groups and short runs; ``--full`` for the full-scale run).
"""

import json
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pymc as pm

from pmfisher import laplace, plots
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.verdicts import element_agreement, inner_check_summary, scalar_agreement

NAME = Path(__file__).stem
SEED = 43
ROWS_PER_GROUP = 8
TRUE_ALPHA, TRUE_BETA, TRUE_SIGMA = -0.5, 0.8, 0.9
HYPERPARAMETERS = ["alpha", "beta", "sigma"]
METHODS = ("gaussian", "nuts")


def glmm(groups: int) -> pm.Model:
    """Random intercepts, non-centred (as NUTS on the whole model prefers them with eight
    binary outcomes a group), on data simulated from the model."""
    rng = np.random.default_rng(SEED)
    group = np.repeat(np.arange(groups), ROWS_PER_GROUP)
    x = rng.normal(size=group.size)
    intercepts = TRUE_SIGMA * rng.normal(size=groups)
    logit = TRUE_ALPHA + TRUE_BETA * x + intercepts[group]
    y = rng.random(group.size) < 1 / (1 + np.exp(-logit))
    with pm.Model(coords={"group": [f"g{j:04d}" for j in range(groups)]}) as model:
        alpha = pm.Normal("alpha", 0.0, 2.0)
        beta = pm.Normal("beta", 0.0, 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        b = pm.Deterministic("b", sigma * z, dims="group")
        pm.Bernoulli("y", logit_p=alpha + beta * x + b[group], observed=y.astype("int64"))
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = 100 if smoke else 2000
    draws, chains = (300, 2) if smoke else (1000, 4)
    nested_draws, tune = (400, 200) if smoke else (4000, 1000)
    model = glmm(groups)

    start = time.perf_counter()
    reference = sample_nuts(model, draws=draws, chains=chains, seed=SEED)
    seconds = {"NUTS": time.perf_counter() - start}
    fits, warned = {}, {}
    for method in METHODS:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            fits[method] = laplace(
                model=model,
                latent="z",
                hyper=method,
                draws=nested_draws,
                tune=tune,
                random_seed=SEED,
            )
        seconds[method] = time.perf_counter() - start
        warned[method] = any("inner Laplace" in str(w.message) for w in caught)

    summary = {
        "case": f"Bernoulli GLMM with {groups} random intercepts, integrated out by Laplace",
        "smoke": smoke,
        "groups": groups,
        "rows_per_group": ROWS_PER_GROUP,
        "truth": {"alpha": TRUE_ALPHA, "beta": TRUE_BETA, "sigma": TRUE_SIGMA},
        "nuts_draws": draws * chains,
        "nested_draws": nested_draws,
        "seconds": seconds,
        "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        "latent_structure": fits["nuts"].attrs["latent_structure"],
    }
    for method, approx in fits.items():
        summary[method] = {
            "speedup_over_nuts": seconds["NUTS"] / seconds[method],
            "inner_warned": warned[method],
            **inner_check_summary(approx),
            **scalar_agreement(approx, reference, HYPERPARAMETERS),
            "intercepts": element_agreement(approx, reference, "b"),
        }
    summary["nuts"]["divergences"] = int(fits["nuts"]["sample_stats"]["diverging"].sum())

    names = ("nested Laplace (NUTS on the marginal)", "NUTS, whole model")
    plots.plot_pair_ellipses(
        fits["gaussian"],
        reference,
        var_names=["alpha", "beta", "sigma_log__"],
        path=out / f"{NAME}_pair.png",
    )
    plots.plot_marginals(
        fits["nuts"],
        reference,
        var_names=[*HYPERPARAMETERS, "b"],
        coords={"group": list(model.coords["group"][:2])},
        names=names,
        path=out / f"{NAME}.png",
    )
    plots.plot_group_comparison(
        fits["nuts"], reference, var_names="b", names=names, path=out / f"{NAME}_groups.png"
    )
    plots.plot_group_comparison(
        fits["gaussian"],
        reference,
        var_names="b",
        names=("nested Laplace (Gaussian φ)", "NUTS, whole model"),
        path=out / f"{NAME}_gaussian_groups.png",
    )
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
