"""The exact design gradient against central finite differences of the same criterion.

pydex and PopED differentiate a design criterion by finite differences: two evaluations of
the criterion per design value. pmfisher's gradient comes from reverse-mode autodiff through
the exact Fisher information to the ``pm.Data`` containers, in one compiled call with the
value. Measured side by side, in one process, on a one-compartment pharmacokinetic model
(sampling times read by a deterministic, ``V``, ``k``, ``ka`` and a noise scale) with a design
of 20 sampling times:

* one criterion value and gradient (D), exact against central differences (40 evaluations);
* a whole exact-design optimization of the 20 times by L-BFGS-B, with either gradient.

Both routes call the same compiled criterion (with or without its gradient output), so the
ratio is the cost of the derivative, not of Python around it; the warm-up compiles both.

Run: ``.venv/bin/python benchmarks/design_gradient.py``.
"""

import time

import numpy as np
import pymc as pm
from scipy import optimize

from pmfisher import design_criterion
from pmfisher._core.model.model_graph import model_graph
from pmfisher.design.design_graph import design_graph
from pmfisher.design.evaluation import criterion_spec, evaluate, parameter_draws

RUNS = 20
POINT = {"V": 20.0, "k": 0.15, "ka": 1.2, "s": 0.2}
BOX = (0.05, 24.0)


def pk_model():
    with pm.Model() as model:
        t = pm.Data("t", np.linspace(0.5, 24.0, RUNS))
        y_obs = pm.Data("y_obs", np.ones(RUNS))
        volume = pm.LogNormal("V", 3.0, 0.3)
        k = pm.LogNormal("k", -2.0, 0.3)
        ka = pm.LogNormal("ka", 0.0, 0.3)
        s = pm.HalfNormal("s", 1.0)
        conc = pm.Deterministic(
            "conc", 100 * ka / (volume * (ka - k)) * (pm.math.exp(-k * t) - pm.math.exp(-ka * t))
        )
        pm.LogNormal("y", pm.math.log(conc), s, observed=y_obs, shape=t.shape)
    return model


def seconds_per_call(function, minimum=1.0):
    function()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < minimum or calls < 5:
        function()
        calls += 1
    return (time.perf_counter() - start) / calls


def main():
    model = pk_model()
    graph = model_graph(model, space="constrained", terms="likelihood")
    design = design_graph(graph, ("t",))
    spec = criterion_spec(graph, "D", None)
    thetas, _ = parameter_draws(graph, POINT)
    times = np.geomspace(0.1, 24.0, RUNS)

    def exact(values):
        result = evaluate(design, "total", spec, thetas, [values])
        return result.value, result.gradients["t"]

    def value_only(values):
        return evaluate(design, "total", spec, thetas, [values], gradient=False).value

    def central(values, step=1e-5):
        gradient = np.empty(values.size)
        for j in range(values.size):
            e = np.zeros(values.size)
            e[j] = step * max(1.0, abs(values[j]))
            gradient[j] = (value_only(values + e) - value_only(values - e)) / (2 * e[j])
        return value_only(values), gradient

    value, gradient = exact(times)
    _, fd_gradient = central(times)
    public = design_criterion({"t": times}, model=model, point=POINT)
    assert public.value == value
    exact_s = seconds_per_call(lambda: exact(times))
    central_s = seconds_per_call(lambda: central(times))
    public_s = seconds_per_call(lambda: design_criterion({"t": times}, model=model, point=POINT))
    print(f"design of {RUNS} sampling times, D criterion = {value:.6f}")
    print(
        f"max |exact - central| / max |exact| = "
        f"{np.abs(gradient - fd_gradient).max() / np.abs(gradient).max():.2e}"
    )
    print(f"{'value + gradient':<40}{'ms':>10}{'ratio':>10}")
    print(f"{'exact (autodiff, one call)':<40}{exact_s * 1e3:>10.3f}{1:>10.1f}")
    print(
        f"{'central differences (41 calls)':<40}{central_s * 1e3:>10.3f}"
        f"{central_s / exact_s:>10.1f}"
    )
    print(
        f"{'design_criterion (public call, exact)':<40}{public_s * 1e3:>10.3f}"
        f"{public_s / exact_s:>10.1f}"
    )

    def optimize_with(gradient_of):
        def objective(z):
            v, g = gradient_of(np.asarray(z))
            return -v, -g

        start = time.perf_counter()
        result = optimize.minimize(
            objective,
            np.linspace(*BOX, RUNS),
            jac=True,
            method="L-BFGS-B",
            bounds=[BOX] * RUNS,
            options={"ftol": 1e-12, "gtol": 1e-8, "maxiter": 2000},
        )
        return time.perf_counter() - start, -result.fun, result.nit

    exact_run = optimize_with(exact)
    central_run = optimize_with(central)
    print(f"\n{'whole optimization (L-BFGS-B)':<40}{'s':>10}{'ratio':>10}{'D':>12}{'iter':>6}")
    print(
        f"{'exact gradient':<40}{exact_run[0]:>10.3f}{1:>10.1f}{exact_run[1]:>12.6f}"
        f"{exact_run[2]:>6}"
    )
    print(
        f"{'central differences':<40}{central_run[0]:>10.3f}"
        f"{central_run[0] / exact_run[0]:>10.1f}{central_run[1]:>12.6f}{central_run[2]:>6}"
    )


if __name__ == "__main__":
    main()
