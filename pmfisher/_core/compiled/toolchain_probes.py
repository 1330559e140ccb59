"""PyTensor's probes of the C toolchain, run once per machine instead of once per process.

The first C function a new process compiles or loads makes PyTensor probe the toolchain: it
compiles and runs test programs to find the BLAS link flags (``blas__ldflags``) and the
flags equivalent to ``-march=native``. That is 0.7 s of gcc in every process (measured on
this project's machine), more than loading all the stored functions of a nested Laplace.
The answers depend on the machine, the compiler and the installed libraries, not on the
process: pmfisher stores them beside its functions, under a key made of those, and hands
them to PyTensor in later processes.

Left alone: a value the user configured (``PYTENSOR_FLAGS``, ``.pytensorrc`` or code that ran
first), and an empty BLAS answer, which is never stored, so that installing a BLAS takes
effect in the next process, as pmfisher's warning about it says. The key includes the
dynamic linker's cache (``/etc/ld.so.cache``), which ``ldconfig`` rewrites whenever a
package installs or removes a shared library, so the stored flags never outlive the
libraries they name.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import pytensor
from pytensor.link.c.cmodule import GCC_compiler

__all__ = ["use_stored_probes"]

LINKER_CACHE = Path("/etc/ld.so.cache")


@functools.cache
def use_stored_probes(directory: Path | None) -> None:
    """Hand PyTensor the probes stored in ``directory`` for this machine, or probe and store
    them there; once per process, before its first C compilation (``None``: no store)."""
    if directory is None:
        return
    path = directory / f"toolchain-{_machine_key()}.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = None
    config = pytensor.config
    if stored is not None:
        if not _configured("blas__ldflags"):
            config.blas__ldflags = stored["blas__ldflags"]
        if _march_unset():
            GCC_compiler.march_flags = list(stored["march_flags"])
        return
    if _configured("blas__ldflags") or not _march_unset():
        return  # the user's configuration, not what probing this machine finds
    # PyTensor probes now, as it would at its first compilation, and the answers are kept.
    flags = config.blas__ldflags
    GCC_compiler.compile_args()
    if not flags or GCC_compiler.march_flags is None:
        return
    probes = {"blas__ldflags": flags, "march_flags": GCC_compiler.march_flags}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(probes))
        partial.replace(path)
    except OSError:
        pass  # a read-only cache: the probes run again in the next process


def _configured(name: str) -> bool:
    """Whether PyTensor already holds a value for ``name`` or will read one from the user's
    configuration, rather than probe for it."""
    if hasattr(pytensor.config._config_var_dict[name], "val"):
        return True
    try:
        pytensor.config.fetch_val_for_key(name)
    except KeyError:
        return False
    return True


def _march_unset() -> bool:
    """PyTensor has not probed the ``-march`` flags and the user gave none."""
    return GCC_compiler.march_flags is None and "-march" not in pytensor.config.gcc__cxxflags


def _machine_key() -> str:
    """What the probes' answers depend on: the processor, the compiler and its flags, the
    linker's view of the installed libraries, the environment and PyTensor."""
    config = pytensor.config
    compiler = shutil.which(config.cxx) if config.cxx else None
    parts = [
        platform.machine(),
        _cpu_flags(),
        config.cxx,
        compiler and os.stat(compiler).st_mtime_ns,
        config.gcc__cxxflags,
        LINKER_CACHE.exists() and LINKER_CACHE.stat().st_mtime_ns,
        os.environ.get("LD_LIBRARY_PATH"),
        os.environ.get("LIBRARY_PATH"),
        sys.prefix,
        pytensor.__version__,
    ]
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def _cpu_flags() -> str:
    """The processor's model and feature flags (Linux), or what ``platform`` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
