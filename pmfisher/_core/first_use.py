"""Importing a library on its first use inside a call, without Python's garbage collector.

``import pmfisher`` leaves out the libraries only some calls need (arviz-base for a
DataTree, arviz-stats and SciPy's statistics for Pareto k̂, ...); the call that needs one
imports it. Such an import allocates hundreds of thousands of objects that live as long as
the process, enough to set off collections of Python's cyclic garbage collector over
everything PyMC and PyTensor hold, which find nothing to free: arviz-stats' import in a
fresh process took 0.15 s less with the collector paused.

arviz-stats is imported after arviz-base, which it imports. arviz-base's import asks
``lazy_loader`` for JAX and NumPyro; not finding them, ``lazy_loader`` records its caller's
stack with ``inspect.stack()``, which looks up the source file and module of every frame on
the stack, each frame of a nested import (``<frozen importlib._bootstrap>``) by a search
through every loaded module. Imported on its own, arviz-base is nested in fewer imports: in
a fresh process's ``laplace`` call (logistic regression of ``benchmarks/fresh_process.py``)
``inspect.stack()`` took 0.09–0.10 s of CPU, against 0.19–0.22 s inside arviz-stats' import.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
from types import ModuleType

__all__ = ["collector_paused", "import_on_first_use"]

# A library's package, and the library its import imports that is imported first, on its own
# (see the module docstring).
_IMPORTED_BEFORE = {"arviz_stats": "arviz_base"}


def import_on_first_use(name: str) -> ModuleType:
    """The module ``name``, imported now with the collector paused if it is not yet (after
    the library its package's import imports, ``_IMPORTED_BEFORE``)."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    with collector_paused():
        before = _IMPORTED_BEFORE.get(name.partition(".")[0])
        if before is not None and before not in sys.modules:
            importlib.import_module(before)
        return importlib.import_module(name)


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off: allocating thousands of long-lived objects
    (unpickling a graph, importing a library) sets off full collections over everything
    PyMC and PyTensor hold (a million objects, 0.9 s each; a 0.2 s load measured 0.9 s with
    one)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
