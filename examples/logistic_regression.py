"""Bundled example: a logistic regression of a binary outcome on three named covariates.

Seeded synthetic data (400 rows), so the report is the same on every machine:
``pmfisher report examples/logistic_regression.py``.
"""

import numpy as np
import pymc as pm

rng = np.random.default_rng(7)
covariates = ["age", "dose", "weight"]
X = rng.normal(size=(400, 3))
true_beta = np.array([0.8, -1.2, 0.3])
y = rng.binomial(1, 1 / (1 + np.exp(-(0.5 + X @ true_beta))))

with pm.Model(coords={"covariate": covariates, "obs": np.arange(len(y))}) as model:
    X_data = pm.Data("X", X, dims=("obs", "covariate"))
    intercept = pm.Normal("intercept", 0.0, 2.5)
    beta = pm.Normal("beta", 0.0, 2.5, dims="covariate")
    p = pm.Deterministic("p", pm.math.sigmoid(intercept + X_data @ beta), dims="obs")
    pm.Bernoulli("y", p=p, observed=y, dims="obs")
