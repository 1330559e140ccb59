"""Labels of parameters, observations and distributions, and labelling flat NumPy results
into xarray objects, once, at the public edge.

A call labels its result every time, but a target's labels do not change between calls: the
coordinates (their pandas indexes: 28 ms to build for 50,000 labels, 9 ms to copy) are built
once per set of labels, in an empty template result, and every result over them is a shallow
copy of it holding its own values, so that labelling costs no more than wrapping. Sharing the
indexes is safe: pandas keeps their values read-only."""

import functools
import sys

import numpy as np
import xarray as xr
from scipy import sparse as scipy_sparse

from pmfisher._core.curvature import memory

__all__ = [
    "distribution_name",
    "element_labels",
    "is_sparse",
    "sparse_square",
    "square",
    "vector",
]

ROW, COLUMN = "param_i", "param_j"
# A matrix the sparse route computed is returned dense up to this size (d ≈ 5,800).
DENSE_RESULT_BYTES = 256 * 2**20
_FLOAT = 8


def is_sparse(result: xr.DataArray) -> bool:
    """Whether a labelled matrix is backed by a pydata ``sparse`` array (which only a process
    that imported ``sparse`` can hold)."""
    module = sys.modules.get("sparse")
    return module is not None and isinstance(result.data, module.SparseArray)


def square(matrix: np.ndarray, labels, *, name: str, **attrs) -> xr.DataArray:
    """A square matrix over parameters: dims ``param_i`` × ``param_j`` sharing the labels."""
    return _labelled(np.asarray(matrix, dtype="float64"), labels, (ROW, COLUMN), name, attrs)


def sparse_square(matrix, labels, *, name: str, requested: str = "sparse", **attrs) -> xr.DataArray:
    """Like :func:`square` for a SciPy sparse matrix, which the sparse route computed.

    The result is dense, like every other matrix pmfisher returns, unless the caller asked
    for ``structure="sparse"`` (``requested``) or its dense form would take more than
    ``DENSE_RESULT_BYTES``: then it is backed by a pydata ``sparse.COO`` array and
    ``result.data.tocsr()`` gives SciPy's CSR back. So a script's ``.values`` works whichever
    route ``structure="auto"`` took on its model.
    """
    size = matrix.shape[0]
    dense_bytes = _FLOAT * size * size
    if requested != "sparse" and dense_bytes <= DENSE_RESULT_BYTES and memory.fits(dense_bytes):
        return square(matrix.toarray(), labels, name=name, **attrs)
    return _labelled(_coo(matrix), labels, (ROW, COLUMN), name, attrs)


def vector(values: np.ndarray, labels, *, name: str, dim: str = "param", **attrs) -> xr.DataArray:
    """A vector over parameters (or observations, with ``dim``)."""
    return _labelled(np.asarray(values, dtype="float64"), labels, (dim,), name, attrs)


def _labelled(data, labels, dims: tuple[str, ...], name: str, attrs: dict) -> xr.DataArray:
    """``data`` over ``dims``, each labelled by ``labels``: a shallow copy of the template
    of these labels (module docstring) holding ``data``, ``name`` and ``attrs``."""
    result = _template(tuple(labels), dims).copy(deep=False, data=data)
    result.name, result.attrs = name, attrs
    return result


@functools.lru_cache(maxsize=16)
def _template(labels: tuple, dims: tuple[str, ...]) -> xr.DataArray:
    """A result over ``dims`` labelled by ``labels``, its values a read-only zero that
    takes no memory: built once per labels."""
    shape = (len(labels),) * len(dims)
    coords = xr.Coordinates({dim: list(labels) for dim in dims})
    return xr.DataArray(np.broadcast_to(0.0, shape), dims=dims, coords=coords)


def _coo(matrix):
    """A SciPy sparse matrix as a pydata ``sparse.COO`` array, in linear time: CSR's
    canonical order (rows, then sorted columns) is the row-major order COO keeps, so no
    sort and no search for duplicates is needed."""
    import sparse  # with numba, 0.3 s: imported by the sparse results only

    rows = scipy_sparse.csr_array(matrix)
    if not rows.has_canonical_format:
        rows = rows.copy()
        rows.sum_duplicates()
    row_of_entry = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    return sparse.COO(
        np.stack([row_of_entry, rows.indices.astype(row_of_entry.dtype)]),
        rows.data.astype("float64"),  # a copy: the result shares nothing with the caller
        shape=rows.shape,
        has_duplicates=False,
        sorted=True,
    )


def distribution_name(variable) -> str:
    """The name a person knows a random variable's distribution by (``Normal``,
    ``NegativeBinomial``), from its PyTensor operation."""
    op = variable.owner.op
    print_name = getattr(op, "_print_name", None)
    if print_name:
        return print_name[0]
    return getattr(op, "name", None) or type(op).__name__


def element_labels(name: str, shape: tuple[int, ...], dims, coords) -> tuple[str, ...]:
    """Labels ``name[i, j]`` for every element in C order, using coordinate values where the
    dimension is named and its coordinates have the right length."""
    if not shape:
        return (name,)
    axes = []
    for axis, length in enumerate(shape):
        dim = dims[axis] if dims is not None and axis < len(dims) else None
        values = coords.get(dim) if dim is not None else None
        if values is None or len(values) != length:
            values = range(length)
        axes.append([str(value) for value in values])
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(shape), -1).T
    return tuple(f"{name}[{', '.join(index)}]" for index in grid)
