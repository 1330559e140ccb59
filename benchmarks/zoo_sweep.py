"""Every row of the zoo (``tests/zoo.py``) through every public function, in both spaces.

The tests check each function on the rows where it is special, within the suite's time
budget; this sweep runs every (row, function) pair and prints what each gives: ``ok`` (a
finite result), ``nan`` (a result that is not finite: a bug), the exception's class and
first words (a typed pmfisher error is expected; anything else is a bug), or ``HANG``
when a call outlasts ``--limit`` seconds. Each row runs in a subprocess of its own, so that
one row's crash or hang does not stop the others. Small sizes: 32 Monte Carlo draws, 50
Laplace draws, 3 simulated data sets.

Run: ``.venv/bin/python benchmarks/zoo_sweep.py [--rows ar scalar] [--limit 240]``.
"""

import argparse
import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, signal, sys, time, warnings
    import numpy as np
    import pmfisher
    from tests.zoo import ROWS, model_for

    warnings.simplefilter("ignore")
    # The defaults live on the function progress_switch wraps.
    pmfisher.fisher_information.__wrapped__.__kwdefaults__.update(replicates=32, random_seed=1)
    name, limit = sys.argv[1], int(sys.argv[2])
    row, model = ROWS[name], model_for(name)
    point, results = row.point, {}

    def hang(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, hang)

    def run(key, call):
        start = time.perf_counter()
        signal.alarm(limit)
        try:
            value = call()
            matrix = getattr(value, "matrix", value)
            array = getattr(matrix, "values", matrix)
            finite = not isinstance(array, (np.ndarray, float)) or np.all(np.isfinite(array))
            outcome = "ok" if finite else "nan"
        except TimeoutError:
            value, outcome = None, "HANG"
        except Exception as error:  # the sweep records every failure, typed or not
            value, outcome = None, f"{type(error).__name__}: {str(error)[:120]}"
        finally:
            signal.alarm(0)
        results[key] = (outcome, round(time.perf_counter() - start, 1))
        return value

    for space in ("constrained", "unconstrained"):
        for function in (
            "observed_information", "scores", "empirical_fisher", "sandwich_covariance",
            "cramer_rao_bound", "natural_gradient", "gauss_newton", "kl_curvature",
        ):
            run(f"{function}/{space}", lambda: getattr(pmfisher, function)(
                point, model=model, space=space))
        run(f"fisher_information/{space}", lambda: pmfisher.fisher_information(
            point, model=model, space=space, progressbar=False))
    run("kl_divergence", lambda: pmfisher.kl_divergence(point, point, model=model))
    for information in ("expected", "observed"):
        run(f"check_tensor_law/{information}", lambda: pmfisher.check_tensor_law(
            point, model=model, information=information))
    run("find_mode", lambda: pmfisher.find_mode(model=model, random_seed=1))
    approx = run("laplace", lambda: pmfisher.laplace(model=model, draws=50, random_seed=1))
    if approx is not None:
        run("delta_method", lambda: pmfisher.delta_method(approx, model=model))
        other = pmfisher.laplace(model=model, draws=50, random_seed=2)
        run("compare", lambda: pmfisher.compare(approx, other))
    run("information_matrix_test", lambda: pmfisher.information_matrix_test(
        point, model=model, progressbar=False))
    run("simulate_estimator", lambda: pmfisher.simulate_estimator(
        point, model=model, replicates=3, random_seed=1, progressbar=False))
    print(json.dumps(results))
    """
)


def main():
    sys.path.insert(0, ".")
    from tests.zoo import ROWS

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="*", default=list(ROWS))
    parser.add_argument("--limit", type=int, default=240)
    args = parser.parse_args()
    for name in args.rows:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(args.limit)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = child.stdout.strip().splitlines()
        if child.returncode != 0 or not lines:
            print(f"{name}: the row's process failed: {child.stderr.strip()[-300:]}")
            continue
        print(f"== {name}")
        for key, (outcome, seconds) in json.loads(lines[-1]).items():
            print(f"  {key:34s} {seconds:7.1f} s  {outcome}")


if __name__ == "__main__":
    main()
