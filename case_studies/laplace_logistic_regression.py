"""Laplace vs NUTS on a logistic regression: the case where the Gaussian is good.

A logistic regression of a binary outcome on three covariates, 600 rows, weakly informative
Normal(0, 2.5) priors. Every coefficient is informed by hundreds of observations, so the
log-posterior is very close to a quadratic around its mode (its third derivatives are
O(n) while the curvature grows like n, so the skewness of the posterior shrinks like
1/sqrt(n)). The Laplace approximation N(θ̂, H⁻¹) — H the exact negative Hessian of the
log-posterior at the mode — should therefore match NUTS, and its Pareto k̂ should say so.

What to look for in the output folder (each file prefixed with the script's name):

* ``marginals.png`` — Laplace (blue) and NUTS (orange) densities lie on top of each other.
* ``pair_ellipses.png`` — NUTS draws fill the Laplace 50% and 95% ellipses as a Gaussian
  would: about half of them inside the inner one, nearly all inside the outer.
* ``forest.png`` — the two sets of intervals coincide.
* ``precision.png`` / ``correlation.png`` — the information H and the correlations of H⁻¹.
* ``khat.png`` — k̂ well below 0.5.
* ``laplace_logistic_regression.json`` — the numbers: largest |z_gap| (mean difference in
  NUTS sds), sd ratios, the NUTS mass inside the Laplace central regions, k̂.

Run: ``python case_studies/laplace_logistic_regression.py --out results/case_studies`` (add
``--full`` for the full-scale run).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pymc as pm

from pmfisher.reporting.case_studies import laplace_against_nuts, run_as_script

NAME = Path(__file__).stem
SEED = 20261122
COVARIATES = ["age", "dose", "weight"]


def build_model(rows: int = 600) -> pm.Model:
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(rows, len(COVARIATES)))
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.4 + X @ np.array([0.9, -1.3, 0.3])))))
    with pm.Model(coords={"covariate": COVARIATES, "obs": np.arange(rows)}) as model:
        X_data = pm.Data("X", X, dims=("obs", "covariate"))
        intercept = pm.Normal("intercept", 0.0, 2.5)
        beta = pm.Normal("beta", 0.0, 2.5, dims="covariate")
        pm.Bernoulli("y", logit_p=intercept + X_data @ beta, observed=y, dims="obs")
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    return laplace_against_nuts(
        build_model(),
        out_dir,
        NAME,
        case="logistic regression, 600 rows, 4 coefficients",
        smoke=smoke,
        seed=SEED,
    )


if __name__ == "__main__":
    run_as_script(main, __doc__)
