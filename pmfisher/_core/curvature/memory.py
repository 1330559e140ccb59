"""Memory estimates taken before a large intermediate is built, and the guard that uses them.

The dense Hessian (:func:`pmfisher._core.curvature.derivatives.hessian`) batches the reverse pass
over the ``d`` unit cotangents, so every intermediate of the log-density's graph gets a ``d × m``
counterpart (``m`` its number of elements). The estimate is therefore ``8·d·M`` bytes, ``M``
the total number of elements of the θ-dependent intermediates, counted by the sparsity pass
(:mod:`pmfisher._core.curvature.sparsity`). On the non-centred hierarchical model at J = 2,000
(d = 2,003, n = 20,000 rows, M = 210,000) it gives 3.4 GB against a measured peak of 2.6 GB:
conservative, and of the right size.

Memory is compared with what the operating system reports as available (``MemAvailable``),
keeping half of it for everything else the process holds.

Batched evaluations (the likelihood over simulated data sets, per-observation scores and
Hessians, the Monte Carlo Fisher information's data sets) are cut into chunks whose largest
intermediate holds at most :data:`ELEMENT_BUDGET` elements (:func:`chunk_length`). A chunk
holds at least one unit (a replicate, a parameter direction), so a unit larger than the
budget is still built — unless it would not fit in memory, which raises
:class:`~pmfisher.errors.InsufficientMemoryError` before the graph is evaluated.
"""

from __future__ import annotations

import os

from pmfisher.errors import InsufficientMemoryError

__all__ = [
    "ALWAYS_FITS",
    "ELEMENT_BUDGET",
    "HEADROOM",
    "available_bytes",
    "chunk_length",
    "dense_hessian_bytes",
    "describe_bytes",
    "fits",
    "require_fits",
]

#: Fraction of the available memory one intermediate may take.
HEADROOM = 0.5

#: Largest number of float64 elements of one intermediate of a batched evaluation (16 MiB):
#: small enough to stay in cache-friendly sizes, large enough that the per-call overhead of a
#: compiled function is amortized.
ELEMENT_BUDGET = 2**21

_FLOAT = 8

#: Bytes that fit without asking the operating system: reading ``/proc/meminfo`` costs
#: 0.12 ms, a third of a 503-parameter sparse Hessian (``benchmarks/public_call.py``), and a
#: machine that runs PyMC has 64 MiB to spare.
ALWAYS_FITS = 2**26


def available_bytes() -> int:
    """Bytes the operating system can still give this process without swapping."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def dense_hessian_bytes(d: int, intermediate_elements: int) -> int:
    """Estimated peak bytes of the dense, batched Hessian of a graph whose θ-dependent
    intermediates hold ``intermediate_elements`` elements in all."""
    return _FLOAT * d * max(intermediate_elements, d)


def fits(nbytes: int) -> bool:
    """Whether ``nbytes`` fits in :data:`HEADROOM` of the available memory (up to
    :data:`ALWAYS_FITS`, without reading how much is available)."""
    return nbytes <= ALWAYS_FITS or nbytes <= HEADROOM * available_bytes()


def describe_bytes(nbytes: float) -> str:
    """``nbytes`` in the largest binary unit that keeps it at least 1, like ``"3.2 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    raise AssertionError("unreachable")


def require_fits(nbytes: int, what: str, *, instead: str) -> None:
    """Raise :class:`~pmfisher.errors.InsufficientMemoryError` unless ``nbytes`` fits.

    ``what`` names the intermediate, ``instead`` tells the user what to do.
    """
    if not fits(nbytes):
        raise InsufficientMemoryError(
            f"{what} would need about {describe_bytes(nbytes)}, and only "
            f"{describe_bytes(available_bytes())} of memory is available; {instead}"
        )


def chunk_length(total: int, elements_each: int, what: str, *, instead: str) -> int:
    """How many of ``total`` units (replicates, parameter directions) one batched call takes.

    Each unit adds ``elements_each`` float64 elements to the call's largest intermediate; a
    chunk takes as many units as :data:`ELEMENT_BUDGET` holds, and at least one, which must
    fit in memory (:func:`require_fits`, with ``what`` naming one unit's intermediate and
    ``instead`` what to do when it does not).
    """
    require_fits(_FLOAT * elements_each, what, instead=instead)
    return max(1, min(int(total), ELEMENT_BUDGET // max(1, int(elements_each))))
