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
``--smoke`` for a fast check with few draws).
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pymc as pm

from pmfisher import plots
from pmfisher.compare import compare
from pmfisher.laplace import laplace
from pmfisher.report import comparison_summary, sample_nuts

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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws, chains = (300, 2) if smoke else (2000, 4)
    model = build_model()
    approx = laplace(model=model, draws=1000 if smoke else 8000, random_seed=SEED)
    reference = sample_nuts(model, draws=draws, chains=chains, seed=SEED)
    table = compare(approx, reference)
    plots.save_laplace_figures(approx, reference, out, NAME)
    summary = {
        "case": "logistic regression, 600 rows, 4 coefficients",
        "smoke": smoke,
        "nuts_draws": draws * chains,
        "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        **comparison_summary(table),
    }
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/case_studies"))
    parser.add_argument("--smoke", action="store_true", help="few draws, for a fast check")
    arguments = parser.parse_args()
    summary = main(arguments.out, smoke=arguments.smoke)
    print(json.dumps({k: v for k, v in summary.items() if not isinstance(v, dict)}, indent=2))
