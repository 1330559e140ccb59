"""The exact Fisher information, sparse route against dense: time and peak memory.

Model: the non-centred hierarchical normal model of ``benchmarks/hessian.py`` (``J`` groups ×
10 rows, d = J + 3), likelihood in the unconstrained space, through the public
``fisher_information(point, model=..., method="exact", structure=...)``. Each (J, route) runs
in a fresh process so that its peak resident memory (``ru_maxrss``) is its own; the dense
process also computes the sparse matrix afterwards and checks that they agree to 1e-10
(relative to the largest entry).

Columns:

* ``colours`` — column colours of the Jacobian pattern read from the graph (forward products
  per evaluation), ``nnz`` — stored entries of the information;
* ``pattern`` — seconds to read the Jacobian pattern and colour it (once per model);
* ``first`` — first call of ``fisher_information``: pattern, compile (or load from the disk
  cache) and evaluation;
* ``steady`` — one further call, best of several;
* ``peak`` — peak resident memory of the process (the dense rows also show the memory
  guard's estimate of the dense route's intermediates); a dense route the guard refuses is
  shown with the estimate it refused, and above ``--dense-up-to`` it is not run.

Run: ``.venv/bin/python benchmarks/sparse_fisher.py [--groups 500 2000 5000 50000]``.

Measured on the project's 2-core machine shared with two other agents (load average 5.0 at
the start, 6.5 at the end; absolute times are inflated, read the ratios), with the dense
route accumulating one pair of parameters at a time:

=======  ========  =======  =======  ========  ========  ==========  ==========  ========
J        d         route    colours  nnz       first     steady      peak        estimate
=======  ========  =======  =======  ========  ========  ==========  ==========  ========
500      503       sparse   4        2,505     21.4 s    17.1 ms     467 MiB
500      503       dense                       10.7 s    566 ms      558 MiB     98 MiB
2,000    2,003     sparse   4        10,005    23.5 s    53.4 ms     474 MiB
2,000    2,003     dense                       49.8 s    13.9 s      2.1 GiB     1.5 GiB
5,000    5,003     sparse   4        25,005    71.1 s    64.6 ms     491 MiB
5,000    5,003     dense    not run                                              9.5 GiB
50,000   50,003    sparse   4        250,005   67.5 s    671 ms      707 MiB
50,000   50,003    dense    refused: InsufficientMemoryError                     950 GiB
=======  ========  =======  =======  ========  ========  ==========  ==========  ========

Steady state, sparse is 33× faster at J = 500 and 260× at J = 2,000; its peak memory stays
near the process's baseline (about 0.45 GiB with PyMC imported) up to 50,003 parameters and
500,000 rows. ``first`` is mostly compiling (or loading, with waits on PyTensor's compile
lock held by the other agents' processes) and varies by tens of seconds between runs.
``estimate`` is the memory guard's figure for the dense route's intermediates: at J = 2,000
the dense process used 1.6 GiB above the sparse one's baseline against an estimate of
1.5 GiB. Before the dense route accumulated one pair of parameters at a time (it stacked
the Jacobians and their weighted copies), the guard's estimate at J = 5,000 was 7.6 GiB and
let the route run; it passed 15 GB resident and was stopped. At J = 50,000,
``fisher_information(..., structure="dense")`` raised ``InsufficientMemoryError`` ("would
need about 950.0 GiB, and only 19.2 GiB of memory is available; pass structure='sparse'
(or 'auto') ...") in a separate run; the table's script skips dense rows above
``--dense-up-to``.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

import pmfisher
from pmfisher._core.curvature import memory
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import InsufficientMemoryError
from pmfisher.information.exact_fisher import fisher_sparsity

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from hessian import hierarchical
from sparse_hessian import timed


def measure(groups: int, route: str, dense_up_to: int) -> dict:
    model, point, _ = hierarchical(groups)
    options = {"model": model, "space": "unconstrained", "method": "exact"}
    graph = model_graph(model, space="unconstrained", terms="likelihood")
    start = time.perf_counter()
    sparsity = graph.companion(fisher_sparsity)
    pattern_seconds = time.perf_counter() - start
    result = {"J": groups, "d": graph.size, "route": route, "colours": sparsity.n_colours}
    result["pattern"] = pattern_seconds
    result["estimate"] = memory.dense_hessian_bytes(graph.size, sparsity.intermediate_elements)
    if route == "dense" and groups > dense_up_to:
        return result | {"skipped": True}
    start = time.perf_counter()
    try:
        info = pmfisher.fisher_information(point, structure=route, **options)
    except InsufficientMemoryError as refused:
        return result | {"refused": str(refused)}
    result["first"] = time.perf_counter() - start
    result["steady"] = timed(lambda: pmfisher.fisher_information(point, structure=route, **options))
    result["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if route == "dense":
        dense = info.matrix.values
        sparse = pmfisher.fisher_information(point, structure="sparse", **options)
        error = np.abs(sparse.matrix.data.todense() - dense).max() / np.abs(dense).max()
        assert error < 1e-10, f"sparse and dense Fisher information differ by {error:.1e}"
        result["error"] = float(error)
    else:
        result["nnz"] = int(info.matrix.data.nnz)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, nargs="+", default=[500, 2000, 5000, 50000])
    parser.add_argument(
        "--dense-up-to",
        type=int,
        default=2000,
        help="run the dense route only up to this J (the machine is shared: J = 5,000 needs "
        "about 10 GiB)",
    )
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one is not None:
        groups, route = int(arguments.one[0]), arguments.one[1]
        print(json.dumps(measure(groups, route, arguments.dense_up_to)))
        return
    print(f"load average {os.getloadavg()}")
    print(
        f"{'J':>7}{'d':>7}{'route':>7}{'colours':>8}{'nnz':>9}{'pattern':>9}{'first':>9}"
        f"{'steady':>11}{'peak':>11}"
    )
    for groups in arguments.groups:
        for route in ("sparse", "dense"):
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    str(groups),
                    route,
                    "--dense-up-to",
                    str(arguments.dense_up_to),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(output.strip().splitlines()[-1])
            head = f"{r['J']:>7}{r['d']:>7}{route:>7}{r['colours']:>8}{r.get('nnz', ''):>9}"
            head += f"{r['pattern']:>8.2f}s"
            estimate = memory.describe_bytes(r["estimate"])
            if "refused" in r:
                print(f"{head}   refused by the memory guard: needs {estimate}")
                continue
            if "skipped" in r:
                print(f"{head}   not run (the memory guard's estimate: {estimate})")
                continue
            print(
                f"{head}{r['first']:>8.1f}s{r['steady'] * 1e3:>9.1f}ms"
                f"{memory.describe_bytes(r['peak']):>11}"
                + (f"   (dense estimate {estimate})" if route == "dense" else "")
            )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
