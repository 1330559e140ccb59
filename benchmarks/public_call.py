"""A public call against its engine: ``observed_information`` at a point it has seen before.

Model: the non-centred hierarchical normal model of ``benchmarks/hessian.py`` (``J`` groups ×
10 rows, d = J + 3), the log-posterior in the unconstrained space, at a fixed point. Each size
runs in a fresh process; every function is warm (compiled, and upgraded to C where a function
is called often) before it is timed, so the times are those of a second call at the same point.

Columns (times are the best of five batches, in units of one ``gradient``):

* ``gradient`` — PyMC's own compiled gradient (``model.compile_dlogp()``), in the same process;
* ``engine`` — the negative Hessian alone, by the route ``structure="auto"`` takes
  (``fitting.target_density.negative_hessian``: one Hessian-vector product per star colour);
* ``public`` — ``observed_information(point, model=..., terms="posterior",
  space="unconstrained")``: the target looked up, the point checked and flattened, the
  engine, the labelled result; ``result`` says what its ``.data`` is;
* ``sparse`` — the same call with ``structure="sparse"``, whose result stays sparse at
  every size;
* ``public/engine`` and ``sparse/engine`` — what the call adds to its engine, and ``added``
  the same in milliseconds (``public`` − ``engine``): the part of a call that does not grow
  with the model (the target looked up, the point read, the result labelled) costs about a
  millisecond, which is what limits the ratio on small models.

A result of d × d doubles returned dense (below 256 MiB, ``labelled.DENSE_RESULT_BYTES``)
costs the writing of d² numbers, which no O(nnz) engine pays: at J = 5,000 that is 200 MB.

Run: ``.venv/bin/python benchmarks/public_call.py [--groups 500 5000 50000]``.

Measured on 2026-12-04 on the project's 2-core machine, shared with other jobs
(load average 2–4 during the run):

TABLE
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import pmfisher
from pmfisher._core.compiled.compilation import UPGRADE_CALLS, UPGRADE_SECONDS
from pmfisher.fitting.target_density import hessian_route, negative_hessian, target_density

sys.path.insert(0, str(Path(__file__).parent))
from hessian import hierarchical


def timed(function, *, seconds=1.0):
    """Best of five batches of calls, each batch about ``seconds`` / 5 long."""
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
    options = {"model": model, "terms": "posterior", "space": "unconstrained"}

    def public(structure="auto"):
        return pmfisher.observed_information(
            point, **options, structure=structure, progressbar=False
        )

    result = public()
    target = target_density(model, terms="posterior", space="unconstrained")
    x = target.flatten(point)
    route = hessian_route(target, "auto")
    # Past the upgrade of a function called often to its C twin (compilation.UPGRADE_CALLS
    # calls and UPGRADE_SECONDS in them), which a second call of a user's loop also meets.
    calls, start = 0, time.perf_counter()
    while calls < UPGRADE_CALLS or time.perf_counter() - start < 1.2 * UPGRADE_SECONDS:
        negative_hessian(target, x, route)
        calls += 1
    dlogp = model.compile_dlogp()
    unconstrained = model.initial_point()
    gradient = timed(lambda: dlogp(unconstrained))
    engine = timed(lambda: negative_hessian(target, x, route))
    call = timed(public)
    sparse_call = timed(lambda: public("sparse"))
    return {
        "J": groups,
        "d": target.size,
        "route": route,
        "result": type(result.data).__module__.split(".")[0],
        "gradient": gradient,
        "engine": engine,
        "public": call,
        "sparse": sparse_call,
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
        f"{'J':>7}{'d':>7}{'route':>8}{'result':>8}{'gradient':>11}{'engine':>9}"
        f"{'public':>9}{'sparse':>9}{'public/engine':>15}{'sparse/engine':>15}{'added':>10}"
    )
    for groups in arguments.groups:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(groups)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        grad = r["gradient"]
        print(
            f"{r['J']:>7}{r['d']:>7}{r['route']:>8}{r['result']:>8}{grad * 1e3:>9.3f}ms"
            f"{r['engine'] / grad:>9.1f}{r['public'] / grad:>9.1f}{r['sparse'] / grad:>9.1f}"
            f"{r['public'] / r['engine']:>15.2f}{r['sparse'] / r['engine']:>15.2f}"
            f"{(r['public'] - r['engine']) * 1e3:>8.2f}ms"
        )


if __name__ == "__main__":
    main()
