"""``import pmfisher`` in a fresh process: no warning, and none of the heavy libraries that
only some calls need (they are imported by those calls); a first ``laplace`` imports what
it uses and not dask, pydata sparse or numba, which it does not."""

import json
import subprocess
import sys

import pytest

# Imported by the calls that need them: plotting, the sparse routes' labelled matrices
# (pydata sparse, which brings numba), Pareto k̂ (arviz-stats), a DataTree (arviz-base),
# SciPy's statistics, and dask for a distributed simulation study.
DEFERRED = (
    "arviz_base",
    "arviz_plots",
    "arviz_stats",
    "dask",
    "matplotlib",
    "numba",
    "scipy.stats",
    "sparse",
)


def fresh_process(code: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, check=False
    )


def test_import_raises_no_warning():
    completed = fresh_process("import pmfisher", "-W", "error")
    assert completed.returncode == 0, completed.stderr


@pytest.fixture(scope="module")
def loaded_by_import():
    completed = fresh_process("import json, sys, pmfisher; print(json.dumps(sorted(sys.modules)))")
    assert completed.returncode == 0, completed.stderr
    return set(json.loads(completed.stdout))


@pytest.mark.parametrize("module", DEFERRED)
def test_import_leaves_out(module, loaded_by_import):
    assert module not in loaded_by_import


FIRST_LAPLACE = """
import json, sys
import numpy as np
import pymc as pm
import pmfisher

rng = np.random.default_rng(3)
X = rng.normal(size=(40, 2))
y = rng.binomial(1, 1 / (1 + np.exp(-X @ np.array([0.5, -1.0]))))
with pm.Model(coords={"obs": range(40), "coef": ["a", "b"]}) as model:
    data = pm.Data("X", X, dims=("obs", "coef"))
    beta = pm.Normal("beta", 0.0, 2.0, dims="coef")
    p = pm.Deterministic("p", pm.math.sigmoid(data @ beta), dims="obs")
    pm.Bernoulli("y", p=p, observed=y, dims="obs")
result = pmfisher.laplace(model=model, draws=200, random_seed=1)
print(repr(result), file=sys.stderr)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def loaded_by_a_first_laplace():
    completed = fresh_process(FIRST_LAPLACE, "-W", "ignore")
    assert completed.returncode == 0, completed.stderr
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["arviz_base", "arviz_stats"])
def test_a_first_laplace_imports_what_it_uses(module, loaded_by_a_first_laplace):
    assert module in loaded_by_a_first_laplace


@pytest.mark.parametrize("module", ["dask", "sparse", "numba", "matplotlib"])
def test_a_first_laplace_leaves_out(module, loaded_by_a_first_laplace):
    assert module not in loaded_by_a_first_laplace
