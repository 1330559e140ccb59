r"""Entries of :math:`A^{-1}` on the pattern of a sparse Cholesky factor (Takahashi's equations).

For :math:`A = LL^\top` (lower :math:`L`, in CHOLMOD's fill-reducing order) the inverse
:math:`Z = A^{-1}` satisfies :math:`Z = L^{-\top}L^{-1}`, so :math:`Z L = L^{-\top}`, whose
strict lower triangle is zero and whose diagonal is :math:`1/L_{jj}`. Read column by column
(Takahashi, Fagan & Chen 1973; Erisman & Tinney 1975), with :math:`s_j` the rows below the
diagonal of column :math:`j` of :math:`L`:

.. math::

    Z_{ij} = -\frac{1}{L_{jj}} \sum_{k \in s_j} Z_{ik} L_{kj} \quad (i \in s_j), \qquad
    Z_{jj} = \frac{1}{L_{jj}^2} - \frac{1}{L_{jj}} \sum_{k \in s_j} L_{kj} Z_{kj}.

Every :math:`Z_{ik}` on the right has :math:`i, k \in s_j`, which are ancestors of :math:`j` in
the elimination tree, and the filled pattern of :math:`L` holds every pair of ancestors of
:math:`j` it touches (it is chordal). So the recursion never leaves that pattern: it costs
:math:`\sum_j |s_j|^2` operations and :math:`O(\operatorname{nnz} L)` memory — the "selected
inverse" that INLA and sparse-GP codes use for :math:`\operatorname{tr}(A^{-1}\,\partial A)`,
never the dense :math:`A^{-1}`. CHOLMOD 5 (scikit-sparse 0.4) has no selected inverse, hence
this module.

Columns at the same depth of the elimination tree depend only on shallower ones, so they are
computed together, grouped by :math:`|s_j|`: a diagonal or block-diagonal :math:`A` takes one
or two vectorized steps, a banded one (a random walk) one step per column.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["selected_inverse"]

# Entries of the gathered Z[s, s] blocks computed at once: bounds the temporary memory.
GATHER_ELEMENTS = 2**22


def selected_inverse(lower: sparse.csc_array, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """:math:`(A^{-1})_{ab}` for the index pairs ``pairs = (a, b)``, from the lower Cholesky
    factor ``lower`` of :math:`A = LL^\\top` (same ordering as ``a`` and ``b``).

    Every pair must lie in the filled pattern of ``lower`` (either triangle), as the pattern of
    :math:`A` does.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> a = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])
    >>> lower = sparse.csc_array(np.linalg.cholesky(a))
    >>> rows, cols = np.nonzero(a)
    >>> np.allclose(selected_inverse(lower, (rows, cols)), np.linalg.inv(a)[rows, cols])
    True
    """
    lower = sparse.csc_array(lower)
    lower.sort_indices()
    n = lower.shape[0]
    indptr, indices, values = lower.indptr, lower.indices, lower.data
    if np.any(indices[indptr[:-1]] != np.arange(n)):
        raise ValueError("the factor must store its whole diagonal, first in each column")
    columns = np.repeat(np.arange(n), np.diff(indptr))
    keys = columns.astype("int64") * n + indices  # sorted: column-major, rows ascending
    inverse = np.zeros(values.size)
    counts = np.diff(indptr) - 1  # |s_j|
    diagonal = values[indptr[:-1]]

    def position(rows, cols):
        rows, cols = np.maximum(rows, cols), np.minimum(rows, cols)
        wanted = cols.astype("int64") * n + rows
        found = np.searchsorted(keys, wanted)
        found = np.minimum(found, keys.size - 1)
        if np.any(keys[found] != wanted):
            raise ValueError("a requested entry lies outside the factor's filled pattern")
        return found

    for level in _levels(indptr, indices, counts, n):
        for count in np.unique(counts[level]):
            group = level[counts[level] == count]
            step = max(1, GATHER_ELEMENTS // max(1, count * count))
            for start in range(0, group.size, step):
                _solve_columns(
                    group[start : start + step],
                    int(count),
                    indptr,
                    indices,
                    values,
                    diagonal,
                    inverse,
                    position,
                )
    return inverse[position(np.asarray(pairs[0]), np.asarray(pairs[1]))]


def _solve_columns(cols, count, indptr, indices, values, diagonal, inverse, position):
    """Takahashi's equations for the columns ``cols``, each with ``count`` rows below the
    diagonal, whose ancestors are done."""
    pivot = diagonal[cols]
    if count == 0:
        inverse[indptr[cols]] = 1.0 / pivot**2
        return
    below = indptr[cols][:, None] + 1 + np.arange(count)  # positions of s_j in the factor
    rows, factor_values = indices[below], values[below]
    block = inverse[position(rows[:, :, None], rows[:, None, :])]  # Z[s_j, s_j]
    column = -np.einsum("bik,bk->bi", block, factor_values) / pivot[:, None]
    inverse[below] = column
    inverse[indptr[cols]] = 1.0 / pivot**2 - (factor_values * column).sum(axis=1) / pivot


def _levels(indptr, indices, counts, n) -> list[np.ndarray]:
    """Columns by depth in the elimination tree, roots first (the parent of ``j`` is the first
    row below its diagonal)."""
    parent = np.where(counts > 0, indices[np.minimum(indptr[:-1] + 1, indices.size - 1)], -1)
    depth = np.zeros(n, dtype="int64")
    for j in range(n - 1, -1, -1):  # parents come after their children
        if parent[j] >= 0:
            depth[j] = depth[parent[j]] + 1
    order = np.argsort(depth, kind="stable")
    boundaries = np.flatnonzero(np.diff(depth[order])) + 1
    return np.split(order, boundaries)
