"""xarray's checks for other array libraries, without importing those libraries.

Whenever xarray wraps an array (every ``DataArray`` and ``Dataset`` a result is made of), it
asks whether the array is a dask array, and to answer it imports dask, which imports pydata
``sparse`` and numba with it: about 0.5 s of a fresh process's first call, before any work,
in every environment where dask is installed, for arrays that are NumPy's. An object can only
be an instance of a class of a module that has been imported, so the answer is the same
without importing anything: while ``dask.array`` (``sparse``, ``cupy``, ...) is not in
``sys.modules``, no array is one of its arrays.

:func:`defer_duck_array_imports` puts that answer into xarray's cache of those libraries
(``xarray.namedarray.pycompat``): each entry gives no array type while its module is not
imported, and is xarray's own entry, built by xarray, from the moment it is (or from the
moment anything asks for its module or version). xarray's test for a dask *collection*
(any object with dask's ``__dask_graph__`` protocol), which imports dask's core (0.13 s) to
ask it, answers "no" for NumPy's own arrays first, as dask would. An xarray without that
cache or that test is left as it is.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["defer_duck_array_imports"]

# xarray's name for each library, and the module that defines its array class: an array of the
# library exists only once that module is imported.
_DEFINING_MODULES = {
    "dask": "dask.array",
    "sparse": "sparse",
    "cupy": "cupy",
    "pint": "pint",
    "cubed": "cubed",
}


class _DeferredDuckArrayModule:
    """Stands for xarray's ``DuckArrayModule(name)`` and builds it when it can matter."""

    def __init__(self, name: str, duck_array_module: type):
        self._name = name
        self._build = duck_array_module
        self._built = None

    @property
    def type(self) -> tuple[type, ...]:
        if self._built is None and _DEFINING_MODULES[self._name] not in sys.modules:
            return ()
        return self._resolved().type

    def __getattr__(self, attribute: str):
        # ``module``, ``version``, ``available``: what xarray reads when it uses the library.
        return getattr(self._resolved(), attribute)

    def _resolved(self):
        if self._built is None:
            self._built = self._build(self._name)
        return self._built


def defer_duck_array_imports() -> None:
    """Give xarray's cache a deferred entry for each library it has not looked up yet, and
    its dask-collection test an answer for NumPy arrays."""
    try:
        from xarray.namedarray import pycompat, utils

        cache, duck_array_module = pycompat._cached_duck_array_modules, pycompat.DuckArrayModule
        is_dask_collection = utils.is_dask_collection
    except (ImportError, AttributeError):  # another xarray: it imports what it imports
        return
    for name in _DEFINING_MODULES:
        cache.setdefault(name, _DeferredDuckArrayModule(name, duck_array_module))
    if not isinstance(is_dask_collection, _NumPyFirst):
        utils.is_dask_collection = _NumPyFirst(is_dask_collection)


class _NumPyFirst:
    """xarray's ``is_dask_collection``, which answers ``False`` for a NumPy array (it has no
    ``__dask_graph__``) without importing dask to ask."""

    def __init__(self, is_dask_collection):
        self._is_dask_collection = is_dask_collection

    def __call__(self, x: object) -> bool:
        return False if type(x) is np.ndarray else self._is_dask_collection(x)
