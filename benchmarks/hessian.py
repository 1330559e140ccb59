"""Dense Hessian speed: pmfisher against the alternatives, side by side, as ratios.

Models: logistic regressions with 2000 rows and 20 / 200 / 1000 coefficients, and a
non-centred hierarchical normal model with 500 groups (503 parameters, unconstrained space).

Columns (seconds per Hessian, then ratios to pmfisher's steady-state call):

* ``pmfisher`` — ``ModelGraph.hessian_fn`` after its first call (compiled once, reused);
* ``pmfisher 1st`` — graph build + compile + first call in this process (warm disk cache);
* ``find_hessian`` — one ``pm.find_hessian`` call, which compiles every time (PyTensor's
  default numba mode) — what a user pays per call;
* ``its fn`` — the function ``pm.find_hessian`` compiles (``model.compile_d2logp``), called
  again after compiling (steady state);
* ``FD`` — central differences of pmfisher's exact compiled gradient (2·d gradient calls);
* ``NumPy XᵀWX`` — the closed form (logistic regressions only).

Then the first-call latency of ``observed_information`` in a fresh process, for the C backend
(pmfisher's default) and for numba (PyTensor 3's default): ``--latency``.

Run: ``.venv/bin/python benchmarks/hessian.py [--skip-find-hessian-above D] [--latency]``.
"""

import argparse
import subprocess
import sys
import textwrap
import time

import numpy as np
import pymc as pm

from pmfisher._core.model.model_graph import model_graph


def logistic(d, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = rng.normal(size=d) / np.sqrt(d)
    y = rng.binomial(1, 1 / (1 + np.exp(-X @ beta)))
    with pm.Model() as model:
        b = pm.Normal("beta", 0, 1, shape=d)
        pm.Bernoulli("y", logit_p=X @ b, observed=y)

    def closed_form():
        p = 1 / (1 + np.exp(-X @ beta))
        return X.T @ (X * (p * (1 - p))[:, None])

    return model, {"beta": beta}, closed_form


def hierarchical(groups=500, per_group=10, seed=0):
    rng = np.random.default_rng(seed)
    index = np.repeat(np.arange(groups), per_group)
    y = rng.normal(rng.normal(1.0, 0.5, size=groups)[index], 1.0)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfNormal("tau", 2)
        z = pm.Normal("z", 0, 1, shape=groups)
        sigma = pm.HalfNormal("sigma", 2)
        pm.Normal("y", mu + tau * z[index], sigma, observed=y)
    point = {"mu": 1.0, "tau": 0.5, "z": rng.normal(size=groups), "sigma": 1.0}
    return model, point, None


def timed(function, repeats):
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def once(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def row(name, model, point, closed_form, *, space, terms, find_hessian_limit):
    build_start = time.perf_counter()
    graph = model_graph(model, space=space, terms=terms)
    x = graph.flatten(point)
    graph.hessian_fn(x)
    first = time.perf_counter() - build_start
    ours = timed(lambda: graph.hessian_fn(x), 10)

    def finite_differences():
        gradient = lambda v: graph.logp_and_grad_fn(v)[1]  # noqa: E731
        columns = []
        for j in range(x.size):
            e = np.zeros_like(x)
            e[j] = 1e-5
            columns.append((gradient(x + e) - gradient(x - e)) / 2e-5)
        return np.array(columns)

    fd = timed(finite_differences, 1)
    numpy = timed(closed_form, 10) if closed_form is not None else np.nan
    if closed_form is not None:
        error = np.abs(-graph.hessian_fn(x) - closed_form()).max() / np.abs(closed_form()).max()
        assert error < 1e-10, f"{name}: Hessian differs from XᵀWX by {error:.2e}"

    find, its_fn = np.nan, np.nan
    if graph.size <= find_hessian_limit:
        value_point = model.initial_point()
        unconstrained = graph.to_unconstrained_fn(x) if space == "constrained" else x
        start = 0
        for rv in model.free_RVs:
            value = model.rvs_to_values[rv]
            size = int(np.prod(value_point[value.name].shape))
            value_point[value.name] = unconstrained[start : start + size].reshape(
                value_point[value.name].shape
            )
            start += size
        find, _ = once(lambda: pm.find_hessian(value_point, model=model, negate_output=False))
        compiled = model.compile_d2logp(negate_output=False)
        its_fn = timed(lambda: compiled(value_point), 3)
    return name, graph.size, ours, first, find, its_fn, fd, numpy


def latency(mode):
    script = textwrap.dedent(
        """
        import time
        start = time.perf_counter()
        import numpy as np, pymc as pm, pmfisher
        rng = np.random.default_rng(0)
        X = rng.normal(size=(2000, 200))
        y = rng.binomial(1, 0.5, size=2000)
        with pm.Model() as model:
            b = pm.Normal("beta", 0, 1, shape=200)
            pm.Bernoulli("y", logit_p=X @ b, observed=y)
        pmfisher.observed_information({"beta": np.zeros(200)}, model=model)
        print(time.perf_counter() - start)
        """
    )
    environment = {"PMFISHER_MODE": mode} if mode else {}
    import os

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-find-hessian-above", type=int, default=1000)
    parser.add_argument("--latency", action="store_true")
    arguments = parser.parse_args()

    rows = []
    for d in (20, 200, 1000):
        model, point, closed = logistic(d)
        rows.append(
            row(
                f"logistic d={d}",
                model,
                point,
                closed,
                space="constrained",
                terms="likelihood",
                find_hessian_limit=arguments.skip_find_hessian_above,
            )
        )
        print(f"done {rows[-1][0]}", file=sys.stderr)
    model, point, _ = hierarchical()
    rows.append(
        row(
            "hierarchical 500 groups",
            model,
            point,
            None,
            space="unconstrained",
            terms="posterior",
            find_hessian_limit=arguments.skip_find_hessian_above,
        )
    )

    header = (
        f"{'model':<24}{'d':>5}{'pmfisher':>11}{'pmfisher 1st':>14}{'find_hessian':>14}"
        f"{'its fn':>10}{'FD':>10}{'NumPy XᵀWX':>12}   ratios to pmfisher: find_hessian / "
        "its fn / FD / NumPy"
    )
    print(header)
    for name, d, ours, first, find, its_fn, fd, numpy in rows:
        print(
            f"{name:<24}{d:>5}{ours:>11.4f}{first:>14.3f}{find:>14.3f}{its_fn:>10.4f}"
            f"{fd:>10.4f}{numpy:>12.4f}   {find / ours:>8.0f}× / {its_fn / ours:.1f}× / "
            f"{fd / ours:.1f}× / {numpy / ours:.2f}×"
        )
    if arguments.latency:
        print("\nfirst call of observed_information in a fresh process (d=200, warm disk cache):")
        for label, mode in (("C backend (cvm, default)", None), ("numba", "NUMBA")):
            print(f"  {label:<26} {latency(mode):7.1f} s")


if __name__ == "__main__":
    main()
