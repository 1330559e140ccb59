"""First calls, side by side with PyMC: how long a new user waits.

For each model (a Poisson GLM, an ``LKJCholeskyCov`` + ``MvNormal`` model, a non-centred
hierarchical model), each measurement runs in a fresh Python process and reports the wall
time of one call after the imports and the model are built:

* ``pymc logp+grad`` — PyMC compiling the model's log-density and gradient
  (``model.compile_logp()``, ``model.compile_dlogp()``) and calling each once: the floor any
  tool built on PyTensor pays;
* ``pm.find_MAP`` — PyMC's own mode finder;
* ``find_mode`` — pmfisher's first ``find_mode()`` (MAP in the unconstrained space);
* ``+ observed_information`` — the first ``observed_information()`` in the same process,
  after ``find_mode`` (its own mode search and Hessian);
* ``laplace`` — the first ``laplace()`` in a fresh process.

Settings, all in fresh processes:

* ``warm`` — PyTensor's compile cache and pmfisher's function cache as the machine has them
  (run the table twice and read the second: everything compiled before is loaded);
* ``new data`` — a data set of the same shapes not seen before (a fresh seed), every cache
  warm;
* ``cold`` (``--cold``) — an empty PyTensor compile directory: everything is compiled.

Ratios against ``pm.find_MAP`` are printed beside the times; the target is ``find_mode``
within 2× of ``pm.find_MAP``. Times on a shared machine move with its load: compare the
columns of one run, not runs.

Run: ``.venv/bin/python benchmarks/first_call.py [--cold] [--models glm lkj hierarchical]``.

Measured on the shared 2-core machine under heavy load (four other sessions compiling and
sampling, load average 10–16: read the ratios within a row, not the seconds), the warm and
new-data rows against a copy of a compile directory of 2,844 modules (``--base-compiledir``).

Before (``252070f``: every stored function's C thunks made PyTensor read the whole compile
directory, 7 s here; functions holding batched linear algebra were never stored):

============  ========  ===========  ==============  ===============  =============
model         setting   pm.find_MAP  find_mode       + observed_info  laplace
============  ========  ===========  ==============  ===============  =============
GLM           warm      3.5 s        37.8 s (10.9×)  3.6 s (1.0×)     26.5 s (7.7×)
GLM           new data  5.6 s        39.4 s (7.1×)   10.4 s (1.9×)    49.2 s (8.9×)
============  ========  ===========  ==============  ===============  =============

After (a stored function reads only its own C modules; a function for new data those of its
data-free twin; Blockwise functions stored):

============  ========  ===========  ==============  ===============  =============
model         setting   pm.find_MAP  find_mode       + observed_info  laplace
============  ========  ===========  ==============  ===============  =============
GLM           warm      6.4 s        5.8 s (0.9×)    3.5 s (0.6×)     7.2 s (1.1×)
GLM           new data  7.8 s        5.8 s (0.7×)    3.3 s (0.4×)     5.7 s (0.7×)
hierarchical  warm      5.7 s        10.8 s (1.9×)   16.9 s (2.9×)    8.9 s (1.6×)
hierarchical  new data  8.7 s        34.5 s (4.0×)   30.2 s (3.5×)    20.7 s (2.4×)
LKJ           warm      11.9 s       37.8 s (3.2×)   39.0 s (3.3×)    56.6 s (4.7×)
LKJ           new data  25.6 s       59.2 s (2.3×)   62.9 s (2.5×)    120.6 s (4.7×)
============  ========  ===========  ==============  ===============  =============

Then, on a quieter machine (load 2–2.5, against the machine's own 4.5 GB compile directory),
with an LKJ model's functions stored (``_core/compiled/pickling.py``: its Hessian's cache key was
different in every process) and ``find_mode``'s flat-direction check forming the Hessian by
the route the search took (one Hessian compiled, not a sparse and a dense one):

============  ========  ===========  ==============  ===============  =============
model         setting   pm.find_MAP  find_mode       + observed_info  laplace
============  ========  ===========  ==============  ===============  =============
GLM           warm      1.0 s        1.0 s (1.0×)    0.6 s (0.6×)     1.7 s (1.8×)
GLM           new data  2.6 s        2.5 s (1.0×)    1.3 s (0.5×)     2.6 s (1.0×)
hierarchical  warm      2.8 s        1.4 s (0.5×)    2.6 s (0.9×)     1.8 s (0.6×)
hierarchical  new data  1.5 s        4.7 s (3.2×)    5.5 s (3.7×)     5.3 s (3.6×)
LKJ           warm      14.6 s       6.3 s (0.4×)    2.2 s (0.2×)     8.4 s (0.6×)
============  ========  ===========  ==============  ===============  =============

(the LKJ new-data row was not run). Warm, every model met the target. On new data the
hierarchical model did not: each of its functions (the search's, the sparse route's pattern
and products) was rewritten again for the new constants, where ``pm.find_MAP`` compiles two.

Then the observed arrays became inputs of every compiled function
(``_core/compiled/compilation.py``: the key holds no data, so a new data set of the same shapes
loads the first one's functions). Measured under heavy load (two helpers compiling beside it and a
10,000-group NUTS run, load 6–7, PyTensor's compile lock contended: the warm row above it came out
slower than the new-data row, so read ratios within a row only):

============  ========  ===========  ==============  ===============  =============
model         setting   pm.find_MAP  find_mode       + observed_info  laplace
============  ========  ===========  ==============  ===============  =============
hierarchical  warm      10.0 s       24.2 s (2.4×)   22.2 s (2.2×)    13.4 s (1.3×)
hierarchical  new data  8.9 s        6.4 s (0.7×)    9.2 s (1.0×)     8.8 s (1.0×)
GLM           warm      6.3 s        7.2 s (1.1×)    2.4 s (0.4×)     21.2 s (3.4×)
============  ========  ===========  ==============  ===============  =============

A new data set now costs what a warm run costs (the hierarchical new-data row went from 3.2×
to 0.7×); the spread between rows of one setting is the load's.

Cold (an empty compile directory for every call, so PyMC's numba cache is empty too), GLM
only, same load: ``pm.find_MAP`` 13.3 s, ``find_mode`` 82.1 s (6.2×), ``+ observed_info``
12.8 s (1.0×), ``laplace`` 180.3 s (13.5×): compiling C modules from nothing is where the
C backend loses, once per machine.

``--laplace``: ``laplace`` on the 100-coefficient logistic regression in a fresh process with
every cache warm, against pymc-extras' ``fit_laplace`` and NUTS (same load): with the
2,844-module compile directory, ``laplace`` 5.4 s, ``fit_laplace`` 134.2 s (24.9×), NUTS
28.2 s (5.2×) — the issue measured 2.0× and 3.4× before, with a 2,296-module directory;
with a small compile directory (a fresh one, warmed by the same calls): ``laplace`` 2.1 s,
``fit_laplace`` 10.0 s (4.8×), NUTS 17.1 s (8.1×).

Then functions evaluated only a few times per call — a small model's log-density, gradient and
Hessians (its mode search's and the one at the mode), its point and transforms, and laplace's
push-forward of the draws — were compiled without C (``_core/compiled/compilation.py``:
``backend="python"``, PyTensor's VM on NumPy, no fusion; ``few_calls_backend``). Before
(``1ce9b4e``) and after side by side, each call in a fresh process with an empty compile
directory, ``pm.find_MAP`` measured once per model (load 2.3–2.8):

============  ======  ===========  ==============  ===============  ==============
model         code    pm.find_MAP  find_mode       + observed_info  laplace
============  ======  ===========  ==============  ===============  ==============
GLM           before  10.0 s       27.8 s (2.8×)   2.7 s (0.3×)     38.9 s (3.9×)
GLM           after   10.0 s       1.8 s (0.2×)    0.9 s (0.1×)     2.3 s (0.2×)
hierarchical  before  8.4 s        42.0 s (5.0×)   29.3 s (3.5×)    45.1 s (5.4×)
hierarchical  after   8.4 s        4.2 s (0.5×)    5.2 s (0.6×)     4.8 s (0.6×)
============  ======  ===========  ==============  ===============  ==============

Warm (each code its own fresh compile directory, warmed by the same calls; load 2.0–2.2):

============  ======  ===========  ==============  ===============  ==============
model         code    pm.find_MAP  find_mode       + observed_info  laplace
============  ======  ===========  ==============  ===============  ==============
GLM           before  1.4 s        1.0 s (0.7×)    0.5 s (0.4×)     1.3 s (0.9×)
GLM           after   1.0 s        0.6 s (0.6×)    0.4 s (0.4×)     1.0 s (1.0×)
hierarchical  before  1.5 s        1.3 s (0.8×)    2.3 s (1.5×)     1.8 s (1.2×)
hierarchical  after   1.6 s        1.1 s (0.6×)    1.6 s (1.0×)     1.3 s (0.8×)
logistic      before  2.1 s        1.3 s (0.6×)    1.2 s (0.6×)     2.3 s (1.1×)
logistic      after   2.1 s        1.6 s (0.7×)    1.8 s (0.8×)     4.5 s (2.1×)
============  ======  ===========  ==============  ===============  ==============

(``logistic``: 2,000 rows, 100 coefficients.) The price is per call: the gradient of the GLM
0.57 ms against 0.04 ms, its Hessian 0.81 ms against 0.11 ms; the sparse Hessian of the
hierarchical model 5.0 ms against 0.2 ms (11 ms against 1.9 ms at 5,000 groups); the logistic
regression's dense Hessian 74 ms against 4.3 ms (NumPy's own BLAS for its one product); the
push-forward of 1,000 draws 25 ms against 10 ms (GLM), 1.19 s against 1.33 s (LKJ, whose
batched Cholesky factors loop in Python either way) — against 16–46 s of C compilation each
on a new machine. Laplace's push-forward on the logistic regression (2,000,000 observations
per call) then went back to C (``PYTHON_BACKEND_OBSERVATIONS``); measured again, warm (load
2.3): ``pm.find_MAP`` 1.6 s, ``find_mode`` 1.3 s, ``+ observed_info`` 1.2 s, ``laplace``
1.7 s (1.1×) before; ``pm.find_MAP`` 2.1 s, ``find_mode`` 1.6 s, ``+ observed_info`` 1.9 s,
``laplace`` 2.5 s (1.2×) after. The LKJ model cold (load 1.1–3.1; ``laplace`` before not
run): ``pm.find_MAP`` 46.1 s; before, ``find_mode`` 149.2 s (3.2×), ``+ observed_info``
26.7 s (0.6×); after, ``find_mode`` 31.4 s (0.7×), ``+ observed_info`` 20.9 s (0.5×),
``laplace`` 38.9 s (0.8×).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import textwrap

MODELS = {
    "glm": """
        rng = np.random.default_rng(SEED)
        X = rng.normal(size=(300, 5))
        y = rng.poisson(np.exp(0.3 + X @ np.linspace(-0.5, 0.5, 5)))
        with pm.Model() as model:
            a = pm.Normal("a", 0, 2)
            beta = pm.Normal("beta", 0, 1, shape=5)
            pm.Poisson("y", pm.math.exp(a + pm.math.dot(X, beta)), observed=y)
    """,
    "lkj": """
        rng = np.random.default_rng(SEED)
        cov = np.array([[1.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 0.5]])
        data = rng.multivariate_normal([0.0, 1.0, -1.0], cov, size=200)
        with pm.Model() as model:
            chol, _, _ = pm.LKJCholeskyCov(
                "chol", n=3, eta=2.0, sd_dist=pm.Exponential.dist(1.0, shape=3)
            )
            mu = pm.Normal("mu", 0.0, 5.0, shape=3)
            pm.MvNormal("y", mu, chol=chol, observed=data)
    """,
    "hierarchical": """
        rng = np.random.default_rng(SEED)
        groups = 50
        group = np.repeat(np.arange(groups), 4)
        y = rng.normal(1.0 + rng.normal(0.0, 0.7, size=groups)[group], 1.0)
        with pm.Model() as model:
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfNormal("tau", 2.0)
            sigma = pm.HalfNormal("sigma", 2.0)
            z = pm.Normal("z", 0.0, 1.0, shape=groups)
            pm.Normal("y", mu + tau * z[group], sigma, observed=y)
    """,
}

CALLS = {
    "pymc logp+grad": """
        start = time.perf_counter()
        point = model.initial_point()
        model.compile_logp()(point); model.compile_dlogp()(point)
        times = [time.perf_counter() - start]
    """,
    "pm.find_MAP": """
        start = time.perf_counter()
        pm.find_MAP(model=model, progressbar=False)
        times = [time.perf_counter() - start]
    """,
    "find_mode": """
        start = time.perf_counter()
        pmfisher.find_mode(model=model)
        middle = time.perf_counter()
        pmfisher.observed_information(model=model)
        times = [middle - start, time.perf_counter() - middle]
    """,
    "laplace": """
        start = time.perf_counter()
        pmfisher.laplace(model=model, draws=1000, random_seed=0)
        times = [time.perf_counter() - start]
    """,
}

MODELS["logistic"] = """
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(2000, 100))
    y = rng.binomial(1, 1 / (1 + np.exp(-X @ rng.normal(size=100) / 10)))
    with pm.Model() as model:
        beta = pm.Normal("beta", 0, 1, shape=100)
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta), observed=y)
"""

LAPLACE_CALLS = {
    "fit_laplace": """
        from pymc_extras.inference import fit_laplace
        start = time.perf_counter()
        fit_laplace(model=model, draws=1000, random_seed=0, progressbar=False)
        times = [time.perf_counter() - start]
    """,
    "NUTS": """
        start = time.perf_counter()
        pm.sample(model=model, random_seed=0, progressbar=False)
        times = [time.perf_counter() - start]
    """,
}

PROGRAM = """
import json, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pymc as pm, pmfisher
SEED = {seed}
{model}
{call}
print(json.dumps(times))
"""


def _unseen_seed() -> int:
    """A seed no earlier run of this script used (with a fixed sequence, a second run's "new
    data" would be the first run's)."""
    return 10_000 + secrets.randbelow(10**9)


def measure(model: str, call: str, setting: str, base: str | None) -> list[float]:
    """One call in a fresh process. ``warm``: the data of every earlier run, every cache as
    it is; ``new data``: data of the same shapes not seen before, every cache warm;
    ``cold``: an empty PyTensor compile directory (C modules and numba's cache alike)."""
    source = {**CALLS, **LAPLACE_CALLS}[call]
    seed = _unseen_seed() if setting == "new data" else 0
    program = PROGRAM.format(
        model=textwrap.dedent(MODELS[model]), call=textwrap.dedent(source), seed=seed
    )
    with tempfile.TemporaryDirectory() as empty:
        environment = {"PMFISHER_PROGRESS": "off"}
        directory = empty if setting == "cold" else base
        if directory is not None:
            environment["PYTENSOR_FLAGS"] = f"base_compiledir={directory}"
        completed = subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            env={**os.environ, **environment},
            check=True,
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table(models, settings, base) -> None:
    print(
        f"{'model':<13} {'setting':<9} {'pymc logp+grad':>15} {'pm.find_MAP':>12} "
        f"{'find_mode':>16} {'+ observed_info':>16} {'laplace':>16}"
    )
    for model in models:
        for setting in settings:
            if setting == "warm":  # every cache holds this model and its data
                measure(model, "find_mode", setting, base)
                measure(model, "laplace", setting, base)
            floor = measure(model, "pymc logp+grad", setting, base)[0]
            find_map = measure(model, "pm.find_MAP", setting, base)[0]
            mode, information = measure(model, "find_mode", setting, base)
            laplace = measure(model, "laplace", setting, base)[0]

            def ratio(seconds, find_map=find_map):
                return f"{seconds:6.1f} s ({seconds / find_map:3.1f}×)"

            print(
                f"{model:<13} {setting:<9} {floor:13.1f} s {find_map:10.1f} s "
                f"{ratio(mode):>16} {ratio(information):>16} {ratio(laplace):>16}",
                flush=True,
            )


def laplace_table(base) -> None:
    """``laplace`` on the 100-coefficient logistic regression in a fresh process, every cache
    warm, against pymc-extras' ``fit_laplace`` and NUTS, as ratios of their times to it."""
    for call in ("laplace", *LAPLACE_CALLS):  # warm-up: every cache holds all three
        measure("logistic", call, "warm", base)
    ours = measure("logistic", "laplace", "warm", base)[0]
    theirs = {call: measure("logistic", call, "warm", base)[0] for call in LAPLACE_CALLS}
    print(
        f"logistic d=100, fresh process, warm: laplace {ours:.1f} s; "
        + "; ".join(
            f"{call} {seconds:.1f} s ({seconds / ours:.1f}×)" for call, seconds in theirs.items()
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also with an empty compile cache")
    parser.add_argument(
        "--models", nargs="+", choices=list(MODELS), default=["glm", "lkj", "hierarchical"]
    )
    parser.add_argument(
        "--base-compiledir",
        help="PyTensor's base_compiledir for the warm and new-data runs (a copy of a large "
        "compile directory, say); default: the machine's own",
    )
    parser.add_argument("--laplace", action="store_true", help="only the fresh-process laplace row")
    arguments = parser.parse_args()
    if arguments.laplace:
        laplace_table(arguments.base_compiledir)
        return
    settings = ["warm", "new data", *(["cold"] if arguments.cold else [])]
    table(arguments.models, settings, arguments.base_compiledir)


if __name__ == "__main__":
    main()
