"""Dense Hessians with and without a BLAS, side by side, as ratios.

Each configuration runs in a subprocess of its own, because PyTensor decides its BLAS once
per process: ``default`` is PyTensor's own detection (which finds Debian's OpenBLAS once the
Makefile has installed ``libopenblas-dev`` and ``libgfortran-12-dev``), ``no BLAS`` sets
``PYTENSOR_FLAGS=blas__ldflags=`` as a pip-only installation without system BLAS ends up.
The steady-state time of ``ModelGraph.hessian_fn`` (what ``observed_information`` costs once
compiled) is measured on the logistic regressions of ``benchmarks/hessian.py`` (2000 rows)
and its hierarchical model (500 groups), with each subprocess's peak resident memory.

Run: ``.venv/bin/python benchmarks/blas.py [--sizes 20 100 200]``.
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, "benchmarks")
    import pytensor
    from hessian import hierarchical, logistic
    from pmfisher._core.model.model_graph import model_graph

    kind, size = sys.argv[1], int(sys.argv[2])
    model, point, _ = logistic(size) if kind == "logistic" else hierarchical(size)
    graph = model_graph(model, space="constrained", terms="likelihood")
    x = graph.flatten(point)
    graph.hessian_fn(x)
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0 or repeats < 3:
        graph.hessian_fn(x)
        repeats += 1
    seconds = (time.perf_counter() - start) / repeats
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": seconds, "peak_gib": peak,
                      "ldflags": pytensor.config.blas__ldflags}))
    """
)


def measure(kind: str, size: int, flags: str) -> dict:
    environment = {**os.environ, "PYTENSOR_FLAGS": flags}
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(size)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 200])
    parser.add_argument("--groups", type=int, default=500)
    arguments = parser.parse_args()
    cases = [("logistic", size) for size in arguments.sizes] + [("hierarchical", arguments.groups)]
    print(f"{'model':>24} {'BLAS ms':>9} {'no BLAS ms':>11} {'ratio':>7} {'peak GiB':>15}")
    for kind, size in cases:
        blas = measure(kind, size, "")
        none = measure(kind, size, "blas__ldflags=")
        if not blas["ldflags"] or none["ldflags"]:
            raise SystemExit(f"PyTensor's BLAS was not as intended: {blas}, {none}")
        name = f"{kind} d={size}" if kind == "logistic" else f"hierarchical J={size}"
        print(
            f"{name:>24} {1e3 * blas['seconds']:9.2f} {1e3 * none['seconds']:11.2f} "
            f"{none['seconds'] / blas['seconds']:6.1f}x "
            f"{blas['peak_gib']:7.2f}/{none['peak_gib']:.2f}"
        )
    print(f"BLAS: {blas['ldflags']}")


if __name__ == "__main__":
    main()
