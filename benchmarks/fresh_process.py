"""A fresh process: ``import pmfisher``, then ``laplace`` against ``fit_laplace`` and NUTS,
alone and with another process compiling beside it.

A script is a fresh process, and so is every notebook kernel: what a user waits for is the
imports and the first call, which loads its stored functions. This benchmark times, on the
logistic regression of ``benchmarks/laplace.py`` (100 coefficients, 2,000 rows, the success
probabilities as a deterministic):

* **import** — ``python -c "import pmfisher"``, wall time of the whole process, median of five
  (and, with ``--before DIR``, the same for the pmfisher found in ``DIR``, a checkout of an
  earlier commit);
* **call** — in a fresh process after a warm-up process (which fills the caches on disk):
  ``pmfisher.laplace`` (mode, exact Hessian, 4,000 draws pushed through the deterministic,
  Pareto k̂), pymc-extras' ``fit_laplace`` (its defaults) and ``pm.sample`` (NUTS, PyMC's
  defaults); the call itself (``call s``) and the whole process, imports and model included
  (``process s``). Every method's three processes run one after another, the methods side by
  side in one run, all on one compile directory of their own;
* **beside a compile** — the same timed processes while another process holds the compile
  directory's lock and keeps one core busy, as a process compiling a large C module does for
  minutes (``pytensor.compile.compilelock.lock_ctx``, the lock PyTensor's compiles take).
  PyTensor reads its module cache under that lock, so before pmfisher read its stored
  modules without it, a fresh process waited for the other's compile to end.

Run from the repository root::

    .venv/bin/python benchmarks/fresh_process.py [--before DIR]

Measured on the shared 2-core machine (2 vCPUs, Python 3.12, PyMC 6.4, PyTensor 3.3) beside
other sessions, so wall times are up to several times the CPU times; compare the columns of
one run, not runs, and read the CPU columns first (the call's CPU time counts its threads and
the processes it waited for: NUTS's chains).

**import pmfisher**, median of five fresh processes, before (``417c071``, every module of the
public surface and what they import: ArviZ, arviz-stats, SciPy's statistics, pydata sparse
and numba) and after (each of those imported by the call that needs it):

======================================  ===========  ==========
                                        before       after
======================================  ===========  ==========
``import pmfisher``, wall (PyMC too)    20.7 s       13.2 s
pmfisher's own share, CPU (after PyMC)  1.32 s       0.34 s
======================================  ===========  ==========

(2026-12-05, load 1.2–2.5, in the run of the table below: 1.39 s wall and 0.30 s CPU at
``412cef6``, 1.34 s and 0.31 s at ``4654d3b``: deferring xarray's dask costs the import
nothing.)

**The fresh-process call**, 2026-12-05, ``OMP_NUM_THREADS=1``, before (``4654d3b``, load
average 1.8–3.5) and after (``412cef6``, load 1.2–2.5: xarray no longer imports dask, pydata
sparse and numba to wrap the first result, ``pmfisher._core.duck_arrays``; the libraries a
call imports are imported with the garbage collector paused, ``pmfisher._core.first_use``),
this script in both (ratios to ``laplace`` in brackets):

=================  =================  =============  =============  =============  =============
method             setting            call s         call CPU s     process s      process CPU s
=================  =================  =============  =============  =============  =============
**before**
pmfisher.laplace   alone              3.00           1.82           5.50           3.46
pmfisher.laplace   beside a compile   5.07           1.69           10.45          3.46
fit_laplace        alone              8.50 (2.8×)    5.59 (3.1×)    12.78 (2.3×)   8.41 (2.4×)
fit_laplace        beside a compile   12.11 (2.4×)   5.68 (3.4×)    21.83 (2.1×)   9.35 (2.7×)
pm.sample (NUTS)   alone              10.76 (3.6×)   7.79 (4.3×)    12.77 (2.3×)   9.38 (2.7×)
pm.sample (NUTS)   beside a compile   25.76 (5.1×)   8.45 (5.0×)    30.65 (2.9×)   10.04 (2.9×)
**after**
pmfisher.laplace   alone              1.35           1.33           2.90           2.88
pmfisher.laplace   beside a compile   1.98           1.02           4.80           2.59
fit_laplace        alone              4.70 (3.5×)    4.67 (3.5×)    7.20 (2.5×)    7.16 (2.5×)
fit_laplace        beside a compile   9.94 (5.0×)    5.10 (5.0×)    14.90 (3.1×)   7.69 (3.0×)
pm.sample (NUTS)   alone              7.31 (5.4×)    7.26 (5.4×)    8.76 (3.0×)    8.71 (3.0×)
pm.sample (NUTS)   beside a compile   18.62 (9.4×)   7.91 (7.8×)    22.82 (4.8×)   9.62 (3.7×)
=================  =================  =============  =============  =============  =============

Beside a process holding the compile lock, ``laplace`` finishes as it does alone (PyTensor
reads its module cache under that lock, and tidies the compile directory under it at exit;
pmfisher reads its stored modules without it). The targets (10× ``fit_laplace``, 20× NUTS)
are not met.

**The fresh-process call, later** (2026-12-05, ``OMP_NUM_THREADS=1``), before (``ce84ed6``)
and after (``2693a95``: arviz-base is imported before arviz-stats, ``pmfisher._core.first_use``),
this script in both, one after the other, twice.

The call's wall time (``call s``) and CPU time (``call CPU s``), ratios to ``laplace`` in
brackets; run 1 after then before (load 5.8–6.3), run 2 before then after (load 3.6–4.7):

=================  =================  ==============  ==============  ==============  ==============
call s             setting            1: before       1: after        2: before       2: after
=================  =================  ==============  ==============  ==============  ==============
pmfisher.laplace   alone              3.17            3.17            3.92            2.85
pmfisher.laplace   beside a compile   4.94            5.65            6.45            5.73
fit_laplace        alone              10.69 (3.4×)    12.58 (4.0×)    11.86 (3.0×)    5.86 (2.1×)
fit_laplace        beside a compile   27.99 (5.7×)    24.04 (4.3×)    25.79 (4.0×)    15.17 (2.6×)
pm.sample (NUTS)   alone              19.19 (6.1×)    21.02 (6.6×)    13.46 (3.4×)    13.56 (4.8×)
pm.sample (NUTS)   beside a compile   35.19 (7.1×)    34.07 (6.0×)    35.60 (5.5×)    27.62 (4.8×)
=================  =================  ==============  ==============  ==============  ==============

=================  =================  ==============  ==============  ==============  ==============
call CPU s         setting            1: before       1: after        2: before       2: after
=================  =================  ==============  ==============  ==============  ==============
pmfisher.laplace   alone              1.61            2.00            2.55            1.79
pmfisher.laplace   beside a compile   1.24            1.76            2.15            1.89
fit_laplace        alone              6.25 (3.9×)     6.19 (3.1×)     7.93 (3.1×)     5.85 (3.3×)
fit_laplace        beside a compile   6.94 (5.6×)     7.25 (4.1×)     8.42 (3.9×)     6.00 (3.2×)
pm.sample (NUTS)   alone              9.55 (5.9×)     10.44 (5.2×)    8.83 (3.5×)     8.80 (4.9×)
pm.sample (NUTS)   beside a compile   9.56 (7.7×)     10.07 (5.7×)    11.73 (5.5×)    9.16 (4.8×)
=================  =================  ==============  ==============  ==============  ==============

Before, earlier the same night as the load rose from 0.2 to 5.5: ``laplace`` 1.57 s (1.54 s
CPU), ``fit_laplace`` 9.56 s (6.1×; CPU 4.0×), NUTS 17.96 s (11.5×; CPU 5.8×).

At that load one timed process per row is not a measurement of a 0.1 s change: the
change shows in what it counts. The two stacks ``lazy_loader`` records while arviz-base is
imported (it asks for the JAX and NumPyro it does not find) are 24 frames deep instead of 40,
and ``inspect.stack()`` scans the loaded modules 67 times instead of 151 (126,496 modules
visited instead of 285,541); in 13 pairs of fresh processes, alternating (load 4–6),
``inspect.stack()`` took a median 0.14 s of CPU against 0.20 s, 0.09–0.10 s against
0.19–0.22 s at load 4. The results are the same to the bit.

Where ``laplace``'s 1.0–1.4 s of CPU in a fresh process goes now (``time.process_time`` per
stage and cProfile, after a warm-up process, load 4):

* **Pareto k̂, 0.45–0.55 s**, nearly all imports: SciPy's ``signal`` and ``stats``
  0.3–0.5 s (over a third of it SciPy parsing its own docstrings at import, in
  ``xp_capabilities``: 0.23–0.24 s of 0.62–0.68 s measured alone),
  ``inspect.stack()`` for ``lazy_loader`` 0.09–0.14 s, arviz-stats' own modules 0.02 s;
  the smoothing itself under 1 ms. arviz-stats offers no route to ``psislw`` without SciPy's
  ``stats`` and ``signal``: it is a method of ``arviz_stats.base.array.BaseArray``, whose
  base classes' modules (``base/core.py``, ``base/density.py``, ``base/diagnostics.py``)
  import ``scipy.stats``, ``scipy.signal``, ``scipy.interpolate`` and ``scipy.optimize`` at
  their top, and importing any submodule first runs ``arviz_stats/__init__.py``, which
  imports the whole library (``loo`` imports ``xarray_einstats.stats``, which imports
  ``scipy.stats``). The smoothing needs only NumPy and ``scipy.special.logsumexp``, which
  PyMC has imported already; avoiding the rest would mean putting stand-ins for SciPy's
  modules into ``sys.modules`` or writing PSIS by hand, and pmfisher does neither.
* **The push-forward, 0.37–0.40 s**: one C function vectorized over draws, called on chunks
  of 1, 1,823, 1,823 and 353 draws. It computes what the default call returns and no more:
  the joint log-density summed over rows (no pointwise log-likelihood), one softplus per
  draw and row (PyTensor's rewrites put the switch on the observation inside the softplus),
  one sigmoid per draw and row for the deterministic ``p`` and one matrix product. Its
  time is those scalar ``exp`` and ``log1p`` calls in C loops (PyTensor's profile: the
  softplus 53 %, the sigmoid with ``p``'s range check 23 %, the matrix product 18 %, the
  sums 6 %). Smaller chunks (32 or 8 MiB instead of 256) changed ``p`` in its last digits.
* **The mode, 0.18 s**: SciPy's trust-exact search with exact Hessians computed by
  PyTensor's Python VM (the dense Hessian is compiled without C, which spares a first
  contact its C compilation), and the stored functions' digests and unpickling. The call's
  11 Hessians took 0.11–0.12 s of CPU in the Python VM, 0.016–0.021 s with C loaded from the
  compile cache: 0.1 s that only a function whose C is already compiled could save.
* the target density's graphs 0.05 s, the DataTree 0.01 s.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METHODS = ("pmfisher.laplace", "fit_laplace", "pm.sample")
DRAWS = 4000

# The call's CPU time counts its threads and the processes it waited for (NUTS's chains).
CHILD = textwrap.dedent(
    """
    import importlib, json, resource, sys, time
    start = time.perf_counter()
    sys.path.insert(0, {here!r})
    import warnings
    warnings.simplefilter("ignore")
    from laplace import build, call
    def cpu():
        return sum(
            usage.ru_utime + usage.ru_stime
            for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        )
    model = build("logistic")
    importlib.import_module({module!r})  # as call() does before its clock starts
    before = cpu()
    seconds, _, _ = call(model, {method!r})
    print(json.dumps({{
        "call": seconds, "call_cpu": cpu() - before, "in_process": time.perf_counter() - start
    }}))
    """
)
# What call() imports before it starts its clock.
CALL_IMPORTS = {
    "pmfisher.laplace": "pmfisher.approximation.laplace",
    "fit_laplace": "pymc_extras.inference",
    "pm.sample": "pymc",
}

# Holds the compile lock and one core, as a process compiling a large C module does, until
# its standard input closes.
COMPILING = textwrap.dedent(
    """
    import sys, threading
    from pytensor.compile.compilelock import lock_ctx
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    with lock_ctx():
        print("locked", flush=True)
        while not done.is_set():
            sum(range(10_000))
    """
)


# CPU seconds of ``import pymc`` and then of ``import pmfisher`` (pmfisher's own share), in a
# fresh process.
IMPORTS = textwrap.dedent(
    """
    import json, resource
    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    start = cpu()
    import pymc
    after_pymc = cpu()
    import pmfisher
    print(json.dumps({"pymc": after_pymc - start, "pmfisher": cpu() - after_pymc}))
    """
)


def import_seconds(pythonpath: str, repeats: int = 5) -> dict:
    """Medians over ``repeats`` fresh processes, with ``pythonpath`` first: the wall time of
    ``python -c "import pmfisher"``, and the CPU time of ``import pmfisher`` after
    ``import pymc`` (what pmfisher adds to a script that imports PyMC anyway)."""
    environment = {**os.environ, "PYTHONPATH": pythonpath}
    walls, own = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pmfisher"], check=True, env=environment)
        walls.append(time.perf_counter() - start)
        completed = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", IMPORTS],
            check=True,
            capture_output=True,
            text=True,
            env=environment,
        )
        own.append(json.loads(completed.stdout)["pmfisher"])
    return {"wall": statistics.median(walls), "own_cpu": statistics.median(own)}


def children_cpu_seconds() -> float:
    """CPU time (user and system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fresh_process(method: str, environment: dict) -> dict:
    child = CHILD.format(here=str(HERE), method=method, module=CALL_IMPORTS[method])
    command = [sys.executable, "-c", child]
    start, cpu = time.perf_counter(), children_cpu_seconds()
    completed = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return {
        **result,
        "process": time.perf_counter() - start,
        "process_cpu": children_cpu_seconds() - cpu,
    }


def beside_a_compile(method: str, environment: dict) -> dict:
    with subprocess.Popen(
        [sys.executable, "-c", COMPILING],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    ) as compiling:
        try:
            assert compiling.stdout.readline().strip() == "locked"
            return fresh_process(method, environment)
        finally:
            compiling.stdin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a checkout of an earlier pmfisher, for import time")
    arguments = parser.parse_args()
    repository = str(HERE.parent)
    trees = {"this checkout": repository}
    if arguments.before:
        trees[arguments.before] = arguments.before
    for name, tree in trees.items():
        seconds = import_seconds(tree)
        print(
            f"import pmfisher: {seconds['wall']:.2f} s wall (pymc included), "
            f"{seconds['own_cpu']:.2f} s CPU after import pymc ({name})"
        )
    with tempfile.TemporaryDirectory() as compiledir:
        flags = ",".join(
            filter(None, [os.environ.get("PYTENSOR_FLAGS"), f"compiledir={compiledir}"])
        )
        environment = {
            **os.environ,
            "PYTENSOR_FLAGS": flags,
            "PMFISHER_FUNCTION_CACHE": str(Path(compiledir) / "pmfisher-functions"),
            "PYTHONPATH": repository,
        }
        rows = {}
        for method in METHODS:
            fresh_process(method, environment)  # warm-up: fills the caches on disk
            rows[method] = {
                "alone": fresh_process(method, environment),
                "beside a compile": beside_a_compile(method, environment),
            }
    ours = rows["pmfisher.laplace"]
    columns = {
        "call": "call s",
        "call_cpu": "call CPU s",
        "process": "process s",
        "process_cpu": "process CPU s",
    }
    print(
        f"\n{'method':<18} {'setting':<17}"
        + "".join(f" {c:>13} {'×':>6}" for c in columns.values())
    )
    for method, settings in rows.items():
        for setting, result in settings.items():
            reference = ours[setting]
            print(
                f"{method:<18} {setting:<17}"
                + "".join(
                    f" {result[key]:>13.2f} {result[key] / reference[key]:>5.1f}×"
                    for key in columns
                )
            )


if __name__ == "__main__":
    main()
