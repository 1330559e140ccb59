"""The log marginal likelihood of pmfisher's routes against PyMC's sequential Monte Carlo
(``pm.sample_smc``, whose ``sample_stats["log_marginal_likelihood"]`` holds one estimate per
chain), side by side, with the time each took, on the small models of
``tests/approximation/test_marginal_likelihood.py`` and ``test_adaptive_quadrature.py``
(their brute-force integrals as the reference):

* a 3-parameter logistic regression: joint ``laplace`` (PSIS importance sampling, 4,000
  draws) against SMC (4 chains × 2,000 particles);
* a Poisson GLMM with two hyperparameters: ``laplace(latent=["u"], hyper="quadrature")``
  against SMC on the whole model (its reference is the exact log p(y); the quadrature
  integrates the Laplace marginal, so it carries the inner Laplace error).

Each call is timed twice in this process; the second (warm) excludes compilation.

Run: ``.venv/bin/python benchmarks/marginal_likelihood.py``.
"""

import sys
import time
import warnings

import numpy as np
import pymc as pm

sys.path.insert(0, "tests")
from approximation.test_adaptive_quadrature import (
    exact_log_marginal,
    log_integral,
    poisson_glmm,
)
from approximation.test_marginal_likelihood import (
    logistic_brute_force,
    logistic_regression,
)

import pmfisher


def timed(call):
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return result, seconds


def smc(model):
    idata = pm.sample_smc(
        draws=2000, chains=4, cores=1, model=model, random_seed=1, progressbar=False
    )
    estimates = np.asarray(idata["sample_stats"]["log_marginal_likelihood"]).reshape(4, -1)
    # PyMC keeps the running estimate per stage; the last finite one is the final.
    finals = np.array([row[np.isfinite(row)][-1] for row in estimates])
    return finals.mean(), finals.std(ddof=1) / np.sqrt(finals.size)


def main():
    warnings.simplefilter("ignore")
    rows = []
    for name, model, reference, options in (
        ("logistic", logistic_regression, logistic_brute_force(), {}),
        (
            "Poisson GLMM",
            poisson_glmm,
            log_integral(exact_log_marginal),
            {"latent": ["u"], "hyper": "quadrature"},
        ),
    ):
        result, seconds = timed(
            lambda m=model, o=options: pmfisher.laplace(model=m(), draws=4000, random_seed=1, **o)
        )
        fit = result.fit
        rows.append(
            (
                name,
                "pmfisher " + (options.get("hyper") or "laplace"),
                float(fit["log_marginal_likelihood"]),
                float(fit["log_marginal_likelihood_se"]),
                reference,
                seconds,
            )
        )
        (estimate, se), seconds = timed(lambda m=model: smc(m()))
        rows.append((name, "pm.sample_smc", estimate, se, reference, seconds))
    print(
        f"{'model':<14} {'method':<22} {'log p(y)':>10} {'se':>8} {'error':>9}"
        f" {'first s':>8} {'warm s':>7}"
    )
    for name, method, estimate, se, reference, seconds in rows:
        print(
            f"{name:<14} {method:<22} {estimate:10.4f} {se:8.4f} {estimate - reference:+9.4f}"
            f" {seconds[0]:8.1f} {seconds[1]:7.1f}"
        )


if __name__ == "__main__":
    main()
