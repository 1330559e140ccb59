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

Measured on the shared 2-core machine (2 vCPUs, Python 3.12, PyMC 6.4, PyTensor 3.3) under
the load of four other sessions (load average 5–8, so every process got a fraction of a core:
compare the columns of one run, not runs); see the table at the end of this docstring.
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

CHILD = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    sys.path.insert(0, {here!r})
    import warnings
    warnings.simplefilter("ignore")
    from laplace import build, call
    model = build("logistic")
    seconds, _, _ = call(model, {method!r})
    print(json.dumps({{"call": seconds, "in_process": time.perf_counter() - start}}))
    """
)

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


def children_cpu_seconds() -> float:
    """CPU time (user and system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_seconds(pythonpath: str, repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU time of ``python -c "import pmfisher"`` with ``pythonpath`` first."""
    environment = {**os.environ, "PYTHONPATH": pythonpath}
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), children_cpu_seconds()
        subprocess.run([sys.executable, "-c", "import pmfisher"], check=True, env=environment)
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def fresh_process(method: str, environment: dict) -> dict:
    command = [sys.executable, "-c", CHILD.format(here=str(HERE), method=method)]
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
        wall, cpu = import_seconds(tree)
        print(f"import pmfisher: {wall:.2f} s wall, {cpu:.2f} s CPU ({name})")
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
    columns = {"call": "call s", "process": "process s", "process_cpu": "process CPU s"}
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
