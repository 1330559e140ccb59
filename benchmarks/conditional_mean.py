"""The cost of the mean correction of the latent draws (``laplace(conditional=...)``).

The draws of the latent variables given 1,000 draws of the hyperparameters
(``approximation/conditional_draws.py``), ``conditional="gaussian"`` (at the conditional
mode) and ``"mean_corrected"`` (moved by δ = −½H⁻¹∇log det H,
``fitting/conditional_mean.py``) side by side in one process, alternately, after a warm-up
of each, on two models of J groups × 10 rows (a diagonal latent Hessian: every row's modes
in lockstep, then one compiled call of δ a row):

* ``normal`` — the hierarchical normal model of ``benchmarks/nested_laplace.py``: the
  conditional is Gaussian, δ = 0 and nothing is computed, so both times must agree;
* ``poisson`` — its Poisson twin (log-rate μ + τ z[group], counts around e^0.5): δ is
  computed for every row.

Reported: the least of ``--repeats`` timings of each, their ratio, and the load average.

Measured at J = 2,000 (1,000 draws, least of 5; load 2.2–2.3, other sessions beside it):

=========  ==========  ================  =====
model      gaussian s  mean_corrected s  ratio
=========  ==========  ================  =====
normal     0.26        0.26              0.98
poisson    1.83        2.04              1.12
=========  ==========  ================  =====

The shifts alone (``add_diagonal_mean_shifts`` on 1,000 rows, timed apart in the same
conditions): 0.25 s, 0.25 ms a row, against 0.47 ms a row for the Newton iteration's
``(f, ∇f, h)`` call, of which the lockstep makes a few per row. Earlier runs at higher load
(3.3–5.2, the test suite beside them) gave ratios 1.07 and 0.99 (least of 3): the 0.2 s is
within the noise of a loaded machine.

Run: ``.venv/bin/python benchmarks/conditional_mean.py [--groups 2000] [--draws 1000]``.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pymc as pm

sys.path.insert(0, os.path.dirname(__file__))
from hessian import hierarchical

from pmfisher.approximation.adaptive_quadrature import mode_precision
from pmfisher.approximation.conditional_draws import conditional_draws
from pmfisher.fitting.laplace_marginal import laplace_marginal
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode


def poisson(groups: int, per_group: int = 10, seed: int = 0) -> pm.Model:
    rng = np.random.default_rng(seed)
    index = np.repeat(np.arange(groups), per_group)
    counts = rng.poisson(np.exp(0.5 + 0.5 * rng.normal(size=groups))[index])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 2)
        z = pm.Normal("z", 0, 1, shape=groups)
        pm.Poisson("y", pm.math.exp(mu + tau * z[index]), observed=counts)
    return model


def timings(model: pm.Model, draws: int, repeats: int) -> dict[str, float]:
    latent = ["z"]
    marginal = laplace_marginal(model, latent, space="unconstrained", terms="posterior")
    mode = require_converged(
        current_mode(model, terms="posterior", space="unconstrained", latent=latent)
    )
    precision = mode_precision(marginal, mode.x, "raise")
    rng = np.random.default_rng(1)
    # Draws of φ from the Gaussian at the marginal mode, as hyper="gaussian" takes them.
    phis = (
        mode.x
        + np.linalg.solve(precision.cholesky.T, rng.standard_normal((marginal.size, draws))).T
    )
    u_mode = marginal.conditional_mode(mode.x).u
    best = {}
    for repeat in range(repeats + 1):
        for conditional in ("gaussian", "mean_corrected"):
            start = time.perf_counter()
            conditional_draws(
                marginal, phis, mode.x, u_mode, np.random.default_rng(2), conditional=conditional
            )
            seconds = time.perf_counter() - start
            if repeat:  # the first round is the warm-up (compiling or loading)
                best[conditional] = min(best.get(conditional, np.inf), seconds)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"J = {arguments.groups}, {arguments.draws} draws; load {os.getloadavg()}")
    for name, model in (
        ("normal", hierarchical(arguments.groups)[0]),
        ("poisson", poisson(arguments.groups)),
    ):
        best = timings(model, arguments.draws, arguments.repeats)
        ratio = best["mean_corrected"] / best["gaussian"]
        print(
            f"{name:8s} gaussian {best['gaussian']:.2f} s  mean_corrected "
            f"{best['mean_corrected']:.2f} s  ratio {ratio:.2f}"
        )
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
