"""Sparse Hessians: steady-state time in units of one gradient, and peak memory.

Model: the non-centred hierarchical normal model of ``benchmarks/hessian.py`` (``J`` groups ×
10 rows, d = J + 3, unconstrained posterior). Each size runs in a fresh process so that its
peak resident memory (``ru_maxrss``) is its own.

Columns:

* ``nnz`` — stored entries of the pattern read from the graph, ``colours`` — its star colours;
* ``pattern`` — seconds to read the pattern from the graph and colour it (once per model);
* ``first`` — compile (or load from the disk cache) and first call of the sparse Hessian;
* ``gradient`` — one compiled gradient, steady state;
* ``sparse`` — one sparse Hessian (``SparseHessian.__call__``), steady state, and the same in
  gradients;
* ``dense`` — the dense Hessian (``ModelGraph.hessian_fn``) where the memory guard lets it
  run, and the dense/sparse ratio;
* ``peak`` — peak resident memory of the process.

Run: ``.venv/bin/python benchmarks/sparse_hessian.py [--groups 500 5000 50000]``.

Measured on the project's 2-core machine while five other jobs shared it (load average ~8, so
absolute times are inflated; the ratios to one gradient are the numbers to read):

=======  ========  =======  =======  ========  ==========  ========  ===============  ========
J        d         nnz      colours  pattern   gradient    sparse    dense            peak
=======  ========  =======  =======  ========  ==========  ========  ===============  ========
500      503       3,509    4        0.5 s     0.18 ms     7.0 grad  524 ms (425×)    559 MiB
5,000    5,003     35,009   4        1.5 s     3.2 ms      4.3 grad  needs 19.6 GiB   423 MiB
50,000   50,003    350,009  4        6.7 s     28.5 ms     8.6 grad  needs 1.9 TiB    520 MiB
100,000  100,003   700,009  4        7.4 s     29.8 ms     13.8 grad needs 7.6 TiB    631 MiB
=======  ========  =======  =======  ========  ==========  ========  ===============  ========

An earlier run with less load gave 6.0, 7.6 and 12.2 gradients at J = 500, 5,000, 50,000
(0.65 ms, 12.8 ms, 86 ms; dense at J = 500: 222 ms, 340×), peaks 408, 394, 494 MiB.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from pmfisher._core.curvature import memory
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.curvature.sparsity import hessian_sparsity
from pmfisher._core.model.model_graph import model_graph

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from hessian import hierarchical


def timed(function, *, seconds=1.0):
    """Best of several batches of calls, each batch about ``seconds`` / 5 long."""
    function()
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-6)
    number = max(1, int(seconds / 5 / once))
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def measure(groups: int) -> dict:
    model, point, _ = hierarchical(groups)
    graph = model_graph(model, space="unconstrained", terms="posterior")
    x = graph.flatten(point)
    start = time.perf_counter()
    sparsity = graph.companion(hessian_sparsity)
    hessian = graph.companion(SparseHessian)
    pattern_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = hessian(x)
    first = time.perf_counter() - start
    gradient = timed(lambda: graph.logp_and_grad_fn(x))
    sparse_seconds = timed(lambda: hessian(x))
    dense_bytes = memory.dense_hessian_bytes(graph.size, sparsity.intermediate_elements)
    dense_seconds = None
    if memory.fits(dense_bytes):
        dense = graph.hessian_fn(x)
        error = np.abs(result.toarray() - dense).max() / np.abs(dense).max()
        assert error < 1e-10, f"sparse and dense Hessians differ by {error:.1e}"
        dense_seconds = timed(lambda: graph.hessian_fn(x))
    return {
        "J": groups,
        "d": graph.size,
        "nnz": int(hessian.pattern.nnz),
        "colours": hessian.n_colours,
        "pattern": pattern_seconds,
        "first": first,
        "gradient": gradient,
        "sparse": sparse_seconds,
        "dense": dense_seconds,
        "dense_estimate": dense_bytes,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[500, 5000, 50000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one is not None:
        print(json.dumps(measure(arguments.one)))
        return
    print(
        f"{'J':>7}{'d':>7}{'nnz':>9}{'colours':>8}{'pattern':>9}{'first':>8}{'gradient':>11}"
        f"{'sparse':>11}{'(grads)':>8}{'dense':>10}{'dense/sparse':>13}{'peak':>11}"
    )
    for groups in arguments.groups:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(groups)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        dense = (
            f"{r['dense'] * 1e3:>8.2f}ms{r['dense'] / r['sparse']:>12.1f}×"
            if r["dense"] is not None
            else f"{'—':>10}{'(needs ' + memory.describe_bytes(r['dense_estimate']) + ')':>14}"
        )
        print(
            f"{r['J']:>7}{r['d']:>7}{r['nnz']:>9}{r['colours']:>8}{r['pattern']:>8.2f}s"
            f"{r['first']:>7.1f}s{r['gradient'] * 1e3:>9.3f}ms{r['sparse'] * 1e3:>9.2f}ms"
            f"{r['sparse'] / r['gradient']:>8.1f}{dense}{memory.describe_bytes(r['peak']):>11}"
        )


if __name__ == "__main__":
    main()
