"""The order in which pytest-xdist hands out test files (``--dist loadfile``, see
pyproject.toml): the slowest files first, then the rest by their number of tests.

xdist's own order (``--loadscope-reorder``) is by number of tests alone, which put a file of
two tests and two minutes (the population PK study) among the last, so that one worker ran it
while the other had finished: the longest files started late set the wall time. Handed out
first, they run while the many short files fill the other worker (longest processing time
first). Simulated with the durations of a clean run (``--durations``, the other tests at their
mean): 939 s → 885 s of wall time on two workers; 856 s → 844 s with the PK file at the 48 s it
takes since its pullback compiles without the in-place rewrite.
"""

from collections import Counter

import pytest

# The files with the longest tests of a clean clone's ``make test`` (cold caches), longest
# first; a file missing here is only scheduled by its number of tests.
SLOWEST_FILES = (
    "tests/inference/test_components.py",
    "tests/reporting/test_case_studies.py",
    "tests/approximation/test_adaptive_quadrature.py",
    "tests/design/test_population_pk.py",
    "tests/design/test_population.py",
    "tests/design/test_optimal.py",
    "tests/fitting/test_laplace_marginal.py",
    "tests/approximation/test_nested_laplace.py",
    "tests/information/test_misspecification.py",
    "tests/information/test_quadrature_fisher.py",
    "tests/inference/test_fits.py",
    "tests/fitting/latent/test_sparse_latent.py",
    "tests/fitting/test_mode_cache.py",
    "tests/fitting/test_laplace_marginal_mvnormal.py",
    # One test of 17–33 s each (compilation) in the clean run of 2026-12-05.
    "tests/_core/curvature/test_sparse_hessian.py",
    "tests/fitting/test_boundary.py",
    "tests/_core/model/test_target.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    files = Counter(item.nodeid.split("::")[0] for item in items)
    rank = {name: position for position, name in enumerate(SLOWEST_FILES)}

    def key(item):
        name = item.nodeid.split("::")[0]
        return (rank.get(name, len(rank)), -files[name], name)

    items.sort(key=key)  # stable: a file's own tests keep their order
