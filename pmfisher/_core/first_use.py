"""Importing a library on its first use inside a call, without Python's garbage collector.

``import pmfisher`` leaves out the libraries only some calls need (arviz-base for a
DataTree, arviz-stats and SciPy's statistics for Pareto k̂, ...); the call that needs one
imports it. Such an import allocates hundreds of thousands of objects that live as long as
the process, enough to set off collections of Python's cyclic garbage collector over
everything PyMC and PyTensor hold, which find nothing to free: arviz-stats' import in a
fresh process took 0.15 s less with the collector paused.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
from types import ModuleType

__all__ = ["collector_paused", "import_on_first_use"]


def import_on_first_use(name: str) -> ModuleType:
    """The module ``name``, imported now with the collector paused if it is not yet."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    with collector_paused():
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
