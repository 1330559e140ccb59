"""Laplace approximation end to end: pmfisher.laplace vs pymc-extras fit_laplace vs NUTS.

Every (model, method) pair runs twice in a fresh Python process, with a PyTensor compile
cache of its own: first a warm-up run (which fills the compilation caches on disk), then the
timed run, which times only the call itself
— for pmfisher: mode, exact Hessian, 4000 draws pushed through every deterministic, and
Pareto k̂. The timed process then calls again on the model built anew ("again": a notebook
cell run a second time). The script prints a table of seconds and ratios, and how far the standard
deviations of each approximation are from pmfisher's exact ones.

Run from the repository root::

    .venv/bin/python benchmarks/laplace.py

Models: a logistic regression with 100 coefficients and 2000 rows (with the 2000 success
probabilities as a deterministic), and a non-centred hierarchical regression with 40 groups.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DRAWS = 4000
MODELS = ("logistic", "hierarchical")
METHODS = {
    "pmfisher.laplace": "exact Hessian, k̂, deterministics",
    "fit_laplace": "pymc-extras default (BFGS inverse Hessian)",
    "fit_laplace_exact": "pymc-extras trust-exact, use_hess=True",
    "pm.sample": "NUTS (nutpie), PyMC defaults",
}


def build(name):
    import pymc as pm

    rng = np.random.default_rng(20260618)
    if name == "logistic":
        rows, columns = 2000, 100
        X = rng.normal(size=(rows, columns)) / np.sqrt(columns)
        y = rng.binomial(1, 1 / (1 + np.exp(-X @ rng.normal(size=columns))))
        coords = {"obs": range(rows), "coef": range(columns)}
        with pm.Model(coords=coords) as model:
            data = pm.Data("X", X, dims=("obs", "coef"))
            beta = pm.Normal("beta", 0.0, 2.0, dims="coef")
            p = pm.Deterministic("p", pm.math.sigmoid(data @ beta), dims="obs")
            pm.Bernoulli("y", p=p, observed=y, dims="obs")
        return model
    groups, per_group = 40, 15
    group = np.repeat(np.arange(groups), per_group)
    x = rng.normal(size=group.size)
    y = rng.normal(0.5, 0.8, size=groups)[group] + 1.5 * x + rng.normal(scale=1.0, size=group.size)
    with pm.Model(coords={"group": range(groups)}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfNormal("tau", 2.0)
        z = pm.Normal("z", 0.0, 1.0, dims="group")
        slope = pm.Normal("slope", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        intercept = pm.Deterministic("intercept", mu + tau * z, dims="group")
        pm.Normal("y", intercept[group] + slope * x, sigma, observed=y)
    return model


def run(model_name, method):
    """Time the call twice in this process, the second time on the model built anew (as a
    notebook cell run again does); return both times and the sds of the free parameters."""
    import warnings

    warnings.simplefilter("ignore")
    first, sd, pareto_k = call(build(model_name), method)
    again, _, _ = call(build(model_name), method)
    return {"seconds": first, "again": again, "sd": sd, "pareto_k": pareto_k}


def call(model, method):
    import pymc as pm

    if method == "pmfisher.laplace":
        from pmfisher.approximation.laplace import laplace

        start = time.perf_counter()
        result = laplace(model=model, draws=DRAWS, random_seed=1)
        seconds = time.perf_counter() - start
        sd = np.sqrt(np.diag(result.fit["covariance_matrix"].values))
        return seconds, sd.tolist(), result.attrs["pareto_k"]
    if method.startswith("fit_laplace"):
        from pymc_extras.inference import fit_laplace

        options = {}
        if method == "fit_laplace_exact":
            options = {"optimize_method": "trust-exact", "use_grad": True, "use_hess": True}
        start = time.perf_counter()
        result = fit_laplace(model=model, draws=DRAWS, random_seed=1, progressbar=False, **options)
        seconds = time.perf_counter() - start
        sd = np.sqrt(np.diag(result.fit["covariance_matrix"].values))
        return seconds, sd.tolist(), None
    start = time.perf_counter()
    with model:
        pm.sample(random_seed=1, progressbar=False)
    return time.perf_counter() - start, [], None


def in_fresh_process(model_name, method):
    # A compile cache of its own per pair, filled by the warm-up: PyTensor's C backend reads
    # every entry of its cache on the first compile of a process, so a cache grown by months
    # of unrelated work (or by this project's test suite) would be timed instead of the call.
    with (
        tempfile.NamedTemporaryFile(suffix=".json") as output,
        tempfile.TemporaryDirectory() as compiledir,
    ):
        command = [sys.executable, __file__, "--child", model_name, method, output.name]
        flags = ",".join(
            filter(None, [os.environ.get("PYTENSOR_FLAGS"), f"compiledir={compiledir}"])
        )
        environment = {**os.environ, "PYTENSOR_FLAGS": flags}
        subprocess.run(command, check=True, capture_output=True, env=environment)  # warm-up
        subprocess.run(command, check=True, capture_output=True, env=environment)
        return json.loads(Path(output.name).read_text())


def main():
    print(
        f"{'model':<13} {'method':<18} {'seconds':>8} {'vs pmfisher':>12}"
        f" {'again':>7} {'vs pmfisher':>12}  sd gap to pmfisher"
    )
    for model_name in MODELS:
        results = {method: in_fresh_process(model_name, method) for method in METHODS}
        ours = results["pmfisher.laplace"]
        for method, result in results.items():
            gap = ""
            if result["sd"] and method != "pmfisher.laplace":
                relative = np.abs(np.array(result["sd"]) / np.array(ours["sd"]) - 1)
                gap = f"median {np.median(relative):.1%}, max {relative.max():.1%}"
            print(
                f"{model_name:<13} {method:<18} {result['seconds']:>8.2f} "
                f"{result['seconds'] / ours['seconds']:>11.1f}x {result['again']:>7.2f} "
                f"{result['again'] / ours['again']:>11.1f}x  {gap}"
            )
        print(f"{'':<13} pmfisher Pareto k̂ = {ours['pareto_k']:.2f}")
    print()
    for method, description in METHODS.items():
        print(f"  {method:<18} {description}")
    print(
        "  (hierarchical: fit_laplace differentiates the density without the transforms' "
        "log-Jacobian, pmfisher with it, so the sds of tau, sigma and their neighbours differ "
        "by construction, not only by approximation)"
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        Path(sys.argv[4]).write_text(json.dumps(run(sys.argv[2], sys.argv[3])))
    else:
        main()
