"""Laplace vs NUTS on real data: Spector & Mazzeo's teaching-method logistic regression.

The data set ships with statsmodels (``statsmodels.datasets.spector``; nothing is downloaded):
32 students, whether their grade improved (GRADE) after a new teaching method (PSI), with
their grade point average (GPA) and a pre-test score (TUCE) — the logit example of Greene's
*Econometric Analysis*. Covariates are standardized; coefficients get Normal(0, 2.5) priors.

Thirty-two binary outcomes for four coefficients is little information: the log-posterior
is visibly skewed (a logistic likelihood with few successes bends away from a parabola), so
Laplace is expected to be close but not exact. This is the typical real-world middle ground
that k̂ and the comparison grade: the Gaussian gets the signs and rough sizes right; its
means sit some tenths of an sd away from NUTS, the NUTS marginals are skewed where the
Gaussian is symmetric, and k̂ tells whether importance sampling could fix it.

Outputs, each prefixed with the script's name: ``marginals.png``, ``forest.png``,
``pair_ellipses.png``, ``precision.png``, ``correlation.png``, ``khat.png``, and the numeric
summary ``laplace_real_data.json``.

Run: ``python case_studies/laplace_real_data.py --out results/case_studies`` (``--full`` for
the full-scale run).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pymc as pm
from statsmodels.datasets import spector

from pmfisher.reporting.case_studies import laplace_against_nuts, run_as_script

NAME = Path(__file__).stem
SEED = 1980
COVARIATES = ["GPA", "TUCE", "PSI"]


def build_model() -> pm.Model:
    data = spector.load_pandas().data
    X = data[COVARIATES].to_numpy(dtype="float64")
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = data["GRADE"].to_numpy(dtype="int64")
    with pm.Model(coords={"covariate": COVARIATES, "student": np.arange(len(y))}) as model:
        X_data = pm.Data("X", X, dims=("student", "covariate"))
        intercept = pm.Normal("intercept", 0.0, 2.5)
        beta = pm.Normal("beta", 0.0, 2.5, dims="covariate")
        pm.Bernoulli("grade", logit_p=intercept + X_data @ beta, observed=y, dims="student")
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    return laplace_against_nuts(
        build_model(),
        out_dir,
        NAME,
        case="Spector & Mazzeo (1980) logistic regression, 32 students (statsmodels)",
        smoke=smoke,
        seed=SEED,
    )


if __name__ == "__main__":
    run_as_script(main, __doc__)
