"""Labelling flat NumPy results into xarray objects, once, at the public edge."""

import numpy as np
import sparse
import xarray as xr

__all__ = ["sparse_square", "square", "vector"]

ROW, COLUMN = "param_i", "param_j"


def square(matrix: np.ndarray, labels, *, name: str, **attrs) -> xr.DataArray:
    """A square matrix over parameters: dims ``param_i`` × ``param_j`` sharing the labels."""
    labels = list(labels)
    return xr.DataArray(
        np.asarray(matrix, dtype="float64"),
        dims=(ROW, COLUMN),
        coords={ROW: labels, COLUMN: labels},
        name=name,
        attrs=attrs,
    )


def sparse_square(matrix, labels, *, name: str, **attrs) -> xr.DataArray:
    """Like :func:`square` for a SciPy sparse matrix: the DataArray is backed by a pydata
    ``sparse.COO`` array; ``result.data.tocsr()`` gives SciPy's CSR back."""
    labels = list(labels)
    return xr.DataArray(
        sparse.COO.from_scipy_sparse(matrix).astype("float64"),
        dims=(ROW, COLUMN),
        coords={ROW: labels, COLUMN: labels},
        name=name,
        attrs=attrs,
    )


def vector(values: np.ndarray, labels, *, name: str, dim: str = "param", **attrs) -> xr.DataArray:
    """A vector over parameters (or observations, with ``dim``)."""
    return xr.DataArray(
        np.asarray(values, dtype="float64"),
        dims=(dim,),
        coords={dim: list(labels)},
        name=name,
        attrs=attrs,
    )
