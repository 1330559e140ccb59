"""PyTensor's C module cache, read only where a stored function needs it.

A compiled PyTensor function with C thunks, unpickled in a new process, asks PyTensor's
module cache for the C module of each thunk. That cache is created on first use by reading
*every* module's ``key.pkl`` in the compile directory (``ModuleCache.refresh``): about
2.7 ms per module, so 7 s on a machine whose compile directory holds 2,700 modules, paid by
every fresh process before its first function, however few modules it needs.

pmfisher stores its functions itself (:mod:`pmfisher._core.compiled.compilation`), so it knows which
modules each one uses: they are recorded when the function is compiled or loaded, and stored
beside it. Before a stored function is unpickled, only its own modules are read into the
module cache, by PyTensor's own ``refresh`` shown a listing of the compile directory that
holds those folders only. The cost of loading a function then grows with the function, not
with the compile directory.

Nothing else changes: a module that is not found this way (removed, or never recorded) is
found by PyTensor as always, by its one full ``refresh``, which lists the whole directory:
the narrowed listing lasts for the duration of a targeted read only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

import pytensor
from pytensor.link.c import cmodule

__all__ = ["read_modules", "recording_modules"]


def _module_cache() -> cmodule.ModuleCache:
    """PyTensor's module cache of this process; created without reading the whole compile
    directory when this is its first use (PyTensor reads what it misses later anyway)."""
    if cmodule._module_cache is None:
        return cmodule.get_module_cache(pytensor.config.compiledir, init_args={"do_refresh": False})
    return cmodule._module_cache


@contextlib.contextmanager
def recording_modules() -> Iterator[set[str]]:
    """The names (folders of the compile directory) of the C modules that PyTensor hands out
    inside the block: the modules of the functions compiled or unpickled there."""
    cache = _module_cache()
    used: set[str] = set()
    outer = cache.__dict__.get("module_from_key")  # a recording around this one
    module_from_key = cache.module_from_key

    def recorded(key, lnk):
        module = module_from_key(key, lnk)
        used.add(os.path.basename(os.path.dirname(module.__file__)))
        return module

    cache.module_from_key = recorded
    try:
        yield used
    finally:
        if outer is None:
            del cache.module_from_key  # the class's method again
        else:
            cache.module_from_key = outer


def read_modules(names: Iterable[str]) -> None:
    """Read the modules ``names`` into the module cache, and no others.

    PyTensor's ``refresh`` lists the compile directory and reads every ``key.pkl`` it has
    not read yet; for the duration of the call its listing of the compile directory holds
    these folders only, so it reads them, with all of its own checks, and later walks still
    read the rest. Listing and skipping every folder instead (a path joined for each of
    5,000 folders, twice) took 0.12 s a stored function.
    """
    cache = _module_cache()
    directory = cache.dirname
    wanted = sorted(
        name
        for name in set(names)
        if os.path.join(directory, name, "key.pkl") not in cache.loaded_key_pkl
    )
    if not wanted:
        return
    cmodule.os = _Listing(directory, wanted)
    try:
        cache.refresh(cleanup=False)
    finally:
        cmodule.os = os


class _Listing:
    """The ``os`` module, except that listing ``directory`` gives ``folders``."""

    def __init__(self, directory: str, folders: list[str]):
        self.directory, self.folders = directory, folders

    def listdir(self, path):
        return list(self.folders) if path == self.directory else os.listdir(path)

    def __getattr__(self, name: str):
        return getattr(os, name)
