"""``import pmfisher`` in a fresh process: no warning, and none of the heavy libraries that
only some calls need (they are imported by those calls)."""

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
