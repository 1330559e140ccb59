"""Importing a library on its first use inside a call, at the cost of the import alone.

``import pmfisher`` leaves out the libraries only some calls need (arviz-base for a
DataTree, arviz-stats for Pareto k̂, ...); the call that needs one imports it. Two costs that
are not the import itself come with doing that deep inside a call of a fresh process:

* arviz-base asks ``lazy_loader`` for its optional JAX and NumPyro, and where they are not
  installed ``lazy_loader`` records the caller's frame with ``inspect.stack()``, which looks
  up the module of every frame on the stack by scanning all of ``sys.modules``: 0.35 s per
  look-up 30 frames deep beside PyMC's 1,700 modules, twice, against 0.03 s at the bottom
  of a fresh thread's stack;
* the import allocates hundreds of thousands of objects, enough to set off full collections
  of Python's cyclic garbage collector over everything PyMC and PyTensor hold, for objects
  that live as long as the process.

:func:`import_on_first_use` therefore imports in a thread of its own (a stack a few frames
deep, whoever the caller is) with the collector paused, and waits for it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import sys
import threading
from types import ModuleType

__all__ = ["collector_paused", "import_on_first_use"]


def import_on_first_use(name: str) -> ModuleType:
    """The module ``name``, imported now if it is not yet, as the module docstring says."""
    module = sys.modules.get(name)
    if module is not None:
        return module
    failures: list[BaseException] = []

    def run() -> None:
        try:
            with collector_paused():
                importlib.import_module(name)
        except BaseException as failure:  # raised again in the caller's thread
            failures.append(failure)

    thread = threading.Thread(target=run, name=f"import {name}")
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    return sys.modules[name]


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
