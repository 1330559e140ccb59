"""Monte Carlo Fisher information and score matrices: vectorized against looped, as ratios.

Part 1 — Monte Carlo Fisher information with 1000 simulated data sets:

* ``vectorized`` — ``fisher_information(method="monte_carlo", replicates=1000)``: one compiled
  call draws every replicate, one (chunked) compiled call gives every gradient and Hessian;
* ``1000 calls`` — the same compiled functions called once per replicate in a Python loop
  (draw one data set, evaluate its gradient and Hessian), which is what a per-replicate
  implementation costs *after* compilation.

Part 2 — the score matrix of 10⁵ observations × 20 parameters (a Poisson regression):
``pmfisher.scores`` (forward mode, chunked over parameter directions) against the
unchunked forward-mode Jacobian of the per-observation log-likelihood, with wall time and
peak memory
(``tracemalloc`` sees NumPy's allocations, including those of PyTensor's C code; the
maximum resident set size of the process is printed too).

Every timing is a steady-state call, after a first call that compiles (warm disk cache).

Run: ``.venv/bin/python benchmarks/fisher.py``.
"""

import resource
import time
import tracemalloc

import numpy as np
import pymc as pm

from pmfisher import fisher_information, scores
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.simulation import simulator
from pmfisher._core.model.model_graph import model_graph

DRAWS = 1000


def logistic_model(n=200, p=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = rng.binomial(1, 1 / (1 + np.exp(-X @ np.linspace(-1, 1, p))))
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 2, shape=p)
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta), observed=y)
    return model, {"beta": np.linspace(-1, 1, p)}


def poisson_model(n=50):
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=np.full(n, 3))
    return model, {"lam": 3.0}


def poisson_regression(n=100_000, p=20, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) / np.sqrt(p)
    coef = rng.normal(size=p) * 0.3
    y = rng.poisson(np.exp(X @ coef))
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 1, shape=p)
        pm.Poisson("y", pm.math.exp(pm.math.dot(X, beta)), observed=y)
    return model, {"beta": coef}


def best_of(function, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def looped_fisher(model, point):
    """One replicate per call, with the same compiled functions."""
    sim = simulator(model)
    like = data_likelihood(model, space="constrained")
    x = like.graph.flatten(point)
    x_row = x[None, :]
    seeds = np.random.SeedSequence(0).spawn(DRAWS)
    outer = np.zeros((x.size, x.size))
    negative_hessian = np.zeros((x.size, x.size))
    for seed in seeds:
        data = sim.draw(x_row, seed)
        _, grad, hessian = like.logp_grad_hessian(x_row, data)
        outer += np.outer(grad[0], grad[0])
        negative_hessian -= hessian[0]
    return outer / DRAWS, negative_hessian / DRAWS


def part_one():
    print(f"Monte Carlo Fisher information, {DRAWS} replicates (seconds, steady state)")
    print(f"{'model':<28}{'vectorized':>12}{'1000 calls':>12}{'ratio':>8}")
    for name, (model, point) in {
        "Poisson, n=50, d=1": poisson_model(),
        "logistic, n=200, d=5": logistic_model(),
    }.items():

        def vectorized(model=model, point=point):
            return fisher_information(
                point, model=model, method="monte_carlo", replicates=DRAWS, random_seed=1
            )

        vectorized()
        looped_fisher(model, point)
        fast = best_of(vectorized)
        slow = best_of(lambda model=model, point=point: looped_fisher(model, point), repeats=1)
        print(f"{name:<28}{fast:>12.4f}{slow:>12.4f}{slow / fast:>8.1f}")


def measure(function):
    """Steady-state seconds (best of 3) and, in a separate call, peak traced memory (MB)."""
    result = function()  # compile
    elapsed = best_of(function)
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, elapsed, peak / 2**20


def part_two():
    model, point = poisson_regression()
    graph = model_graph(model, space="constrained", terms="likelihood")
    x = graph.flatten(point)
    print("\nScore matrix, 100000 observations x 20 parameters (result: 15.3 MB)")
    print(f"{'engine':<40}{'seconds':>10}{'peak MB':>10}")
    chunked, chunked_time, chunked_peak = measure(lambda: scores(point, model=model).values)
    print(f"{'pmfisher.scores (chunked)':<40}{chunked_time:>10.3f}{chunked_peak:>10.1f}")
    likelihood = data_likelihood(model, space="constrained")
    unchunked = compile_function(
        [graph.theta, *likelihood.data.values()],
        derivatives.jacobian_forward(likelihood.pointwise, graph.theta),
    )
    data = list(likelihood.observed_data.values())
    whole, whole_time, whole_peak = measure(lambda: np.asarray(unchunked(x, *data)))
    print(f"{'forward-mode Jacobian (unchunked)':<40}{whole_time:>10.3f}{whole_peak:>10.1f}")
    print(f"max |difference| = {np.max(np.abs(chunked - whole)):.2e}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    part_one()
    part_two()
