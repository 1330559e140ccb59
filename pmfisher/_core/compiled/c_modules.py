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

**Without the compile lock.** PyTensor's ``refresh`` reads under the compile directory's
lock, which a process compiling holds for as long as gcc runs (minutes for a large module):
a fresh process loading its stored functions would wait for another's compile it has no use
for. The targeted read therefore reads without the lock. It only reads — with
``cleanup=False`` PyTensor's walk deletes nothing — and only folders of modules that were
complete when a function was stored with their names; a ``key.pkl`` caught mid-write by
another process fails to unpickle, which ``refresh`` skips, and that module is then found
by PyTensor's own locked path as always.

PyTensor also tidies its compile directory when a process exits (``ModuleCache._on_atexit``:
a walk through every module under the lock, to delete the old ones). A process that finds
the lock held skips it here — the process holding it works in that directory and tidies it
at its own exit — instead of waiting at exit for a compile it never asked for.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import filelock
import pytensor
from pytensor.compile.compilelock import lock_ctx
from pytensor.link.c import cmodule

__all__ = ["read_modules", "recording_modules"]


def _module_cache() -> cmodule.ModuleCache:
    """PyTensor's module cache of this process; created without reading the whole compile
    directory when this is its first use (PyTensor reads what it misses later anyway)."""
    cache = cmodule._module_cache
    if cache is None:
        cache = cmodule.get_module_cache(
            pytensor.config.compiledir, init_args={"do_refresh": False}
        )
    if not getattr(cache, "_pmfisher_tidies_unless_busy", False):
        atexit.unregister(cache._on_atexit)
        atexit.register(_tidy_unless_busy, cache)
        cache._pmfisher_tidies_unless_busy = True
    return cache


def _tidy_unless_busy(cache: cmodule.ModuleCache) -> None:
    """PyTensor's tidying at exit, unless another process holds the compile lock now."""
    lock = filelock.FileLock(Path(cache.dirname) / ".lock")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return
    lock.release()
    cache._on_atexit()


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
    5,000 folders, twice) took 0.12 s a stored function. The read takes no compile lock (see
    the module's docstring): another process's compile does not hold it up.
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
    cmodule.lock_ctx = _unlocked
    try:
        cache.refresh(cleanup=False)
    finally:
        cmodule.os = os
        cmodule.lock_ctx = lock_ctx


@contextlib.contextmanager
def _unlocked(*args, **kwargs) -> Iterator[None]:
    """PyTensor's ``lock_ctx`` during a targeted read, which only reads complete modules."""
    yield


class _Listing:
    """The ``os`` module, except that listing ``directory`` gives ``folders``."""

    def __init__(self, directory: str, folders: list[str]):
        self.directory, self.folders = directory, folders

    def listdir(self, path):
        return list(self.folders) if path == self.directory else os.listdir(path)

    def __getattr__(self, name: str):
        return getattr(os, name)
