"""Results read off a graph and its data, kept on disk beside the stored functions.

Some things pmfisher derives from a model are neither compiled functions nor cheap: the
Hessian's sparsity pattern is read by running every operation of the log-density on labels
(:mod:`pmfisher._core.curvature.sparsity`), 1.3 s for a 2,000-group model, paid by every new
process. Such a result is kept in the function cache's directory
(:func:`~pmfisher._core.compiled.compilation.cache_directory`) under a key of everything it can
depend on: the graph's digest (:mod:`pmfisher._core.compiled.graph_digest`), the versions and
sources of :func:`~pmfisher._core.compiled.compilation.cache_environment`, and — unlike a compiled
function's key — the *values* of every data array and data container the graph reads, and any
further values the computation reads (a starting point): a group index decides which parameters
meet, so a new data set has a new entry. Hashing the data costs about a millisecond per 4 MB.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence

import numpy as np

from pmfisher._core.compiled.compilation import cache_directory, cache_environment
from pmfisher._core.compiled.graph_digest import (
    UndigestibleGraph,
    data_constants,
    graph_digest,
    shared_ancestors,
)

__all__ = ["stored_result"]

_log = logging.getLogger(__name__)


def stored_result[T](
    kind: str, inputs, sources, compute: Callable[[], T], *, values: Sequence = ()
) -> T:
    """``compute()``, a result of the graphs ``sources`` of ``inputs`` (and of ``values``),
    loaded from disk if a process computed it before for the same graph and data.

    ``kind`` names the computation (its recipe); the result must pickle.
    """
    path = _path(kind, inputs, sources, values)
    if path is not None:
        try:
            with path.open("rb") as file:
                return pickle.load(file)
        except FileNotFoundError:
            pass
        except Exception as error:  # a damaged entry is computed again and replaced
            _log.debug("discarding stored result %s: %s", path, error)
    result = compute()
    if path is not None:
        _store(path, result)
    return result


def _path(kind: str, inputs, sources, values):
    directory = cache_directory()
    if directory is None:
        return None
    shared, data = shared_ancestors(sources), data_constants(sources)
    try:
        digest = graph_digest(inputs, sources, shared, data)
    except UndigestibleGraph as reason:
        _log.debug("not stored: %s", reason)
        return None
    key = hashlib.blake2b(digest_size=20)
    for part in (cache_environment(), kind, digest):
        key.update(part.encode())
        key.update(b"\0")
    arrays = [
        *(container.get_value(borrow=True) for container in shared),
        *(array.data for array in data),
        *values,
    ]
    for array in arrays:
        array = np.ascontiguousarray(array)
        key.update(f"{array.dtype.str} {array.shape}\0".encode())
        key.update(array.tobytes())
    return directory / "results" / f"{key.hexdigest()}.pkl"


def _store(path, result) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
            pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(file.name, path)  # atomic: a concurrent reader sees all of it or nothing
    except (OSError, pickle.PicklingError) as error:  # costs time, not correctness
        _log.debug("could not store %s: %s", path, error)
