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

Measured (one BLAS thread, load 6–8 from other work on two cores; errors against the
brute-force integrals of the tests):

==============  ======================  ==========  ======  =======  =======  ======
model           method                  log p(y)    se      error    first s  warm s
==============  ======================  ==========  ======  =======  =======  ======
logistic        pmfisher laplace        −23.1421    0.0064  +0.0049  1.1      0.3
logistic        pm.sample_smc           −23.1354    0.0247  +0.0115  4.0      3.1
Poisson GLMM    pmfisher quadrature     −255.9598   0.0001  −0.0406  22.8     19.2
Poisson GLMM    pm.sample_smc           −263.8590   0.7573  −7.9398  23.8     20.1
==============  ======================  ==========  ======  =======  =======  ======

The importance-sampling estimate is within one standard error of the integral, four times
more precise than SMC's in a tenth of its time. On the GLMM (32 parameters) SMC with 2,000
particles is 8 nats off (its chains disagree: the spread of the four estimates is its se);
the quadrature's −0.041 is the inner Laplace error (Poisson counts, four per group), which
its se (the change from 5 to 7 nodes) does not include: against the integral of the
Laplace marginal itself it is 1.5e-4 off (``tests/approximation/test_adaptive_quadrature.py``).

The rows above were measured with ``nodes=5``, the default then. **The default
``nodes="auto"``** (2026-12-04, against the brute-force integrals of
``tests/approximation/test_adaptive_quadrature.py``; load 12–16): Gauss–Hermite's error
falls only algebraically where the posterior of log τ keeps the exponential left tail of a
prior density finite at τ = 0, so no fixed k meets 1e-3 on small data (6 groups: 0.0015
nats still at k = 21; eight schools 7e-4 at k = 21), while the sinh-trapezoid rule does
with 625 nodes. Error of log p(y) (the Laplace marginal's integral) and the reported error:

=====================  ======================  ======================  ======================
model                  ``gaussian`` (k = 1)    ``nodes=5``             ``nodes="auto"``
=====================  ======================  ======================  ======================
GLMM, 6 groups         0.13 (numpy)            −0.0171 ± 0.0240        −3.4e-6 ± 8.0e-4 (sinh)
GLMM, 30 groups        −0.0253 ± 0.0356        −1.5e-4 ± 4.5e-4        −2.2e-5 ± 4.5e-4 (k = 7)
eight schools          −0.141 ± 0.076          −0.0357 ± 0.0680        −2.8e-6 ± 6.8e-4 (sinh)
=====================  ======================  ======================  ======================

The Gauss–Hermite bound (the change from k to k + 2 times (k + 2)/2) covers the error in
every case but the Gaussian's on eight schools, which it understates 1.9×; at ``nodes=5`` it
overstates by 1.4× (6 groups), 1.9× (eight schools) and 3× (30 groups). With four
hyperparameters (Smolyak's grid, ``test_four_hyperparameters_on_the_sparse_grid``) the
errors at 5, 7, 9 nodes are 0.035, 0.012, 0.0053 (a NumPy replica): the default stops at 9
nodes (681 evaluations), a bound near 0.03, with a warning.

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
    raw = np.asarray(idata["sample_stats"]["log_marginal_likelihood"].values)
    finals = []
    for chain in raw.reshape(raw.shape[0], -1):
        # PyMC records one value per stage (an object array of them), NaN until the last.
        stages = np.concatenate([np.ravel(np.asarray(value, dtype=float)) for value in chain])
        finals.append(stages[np.isfinite(stages)][-1])
    finals = np.array(finals)
    return finals.mean(), finals.std(ddof=1) / np.sqrt(finals.size)


def main():
    warnings.simplefilter("ignore")
    print(
        f"{'model':<14} {'method':<22} {'log p(y)':>10} {'se':>8} {'error':>9}"
        f" {'first s':>8} {'warm s':>7}",
        flush=True,
    )
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
        method = "pmfisher " + options.get("hyper", "laplace")
        estimate, se = (
            float(fit["log_marginal_likelihood"]),
            float(fit["log_marginal_likelihood_se"]),
        )
        show(name, method, estimate, se, reference, seconds)
        (estimate, se), seconds = timed(lambda m=model: smc(m()))
        show(name, "pm.sample_smc", estimate, se, reference, seconds)


def show(name, method, estimate, se, reference, seconds):
    print(
        f"{name:<14} {method:<22} {estimate:10.4f} {se:8.4f} {estimate - reference:+9.4f}"
        f" {seconds[0]:8.1f} {seconds[1]:7.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
