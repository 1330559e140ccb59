r"""The covariance :math:`\Sigma = H^{-1}` of a Laplace ``fit`` group, read the way it is stored.

Up to :data:`~pmfisher.approximation.laplace.DENSE_FIT_LIMIT` parameters the ``fit`` group
holds the dense ``covariance_matrix``; above it (sparse route) only the sparse
``precision_matrix`` :math:`H`, whose dense inverse would not fit in memory. Consumers — the
delta method, the report, the figures — need only parts of :math:`\Sigma`: quadratic forms
:math:`g^\top \Sigma g`, its diagonal, the block of a few selected parameters. From a sparse
fit these come from one CHOLMOD factorization of :math:`H`
(:class:`~pmfisher._core.linalg.sparse_cholesky.SparsePositiveDefinite`), never forming the d × d
:math:`\Sigma`; from a dense fit they are read off the stored matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from pmfisher._core.linalg.sparse_cholesky import SparsePositiveDefinite, sparse_positive_definite
from pmfisher.errors import ArgumentError

__all__ = ["FitCovariance", "fit_covariance"]


@dataclass(frozen=True)
class FitCovariance:
    """Parts of a fit's covariance: dense when stored, else from the sparse precision's factor."""

    labels: tuple[str, ...]
    dense: np.ndarray | None
    factor: SparsePositiveDefinite | None

    def quadratic_forms(self, rows) -> np.ndarray:
        r""":math:`g_k^\top \Sigma g_k` for every row :math:`g_k` of ``rows`` (k × d, dense,
        or SciPy sparse on a sparse fit)."""
        if self.dense is not None:
            rows = np.asarray(rows, dtype="float64")
            return np.einsum("ij,jk,ik->i", rows, self.dense, rows)
        return self.factor.inverse_quadratic_forms(rows.T)

    def variances(self) -> np.ndarray:
        r"""The diagonal of :math:`\Sigma` (exact, also on the sparse route)."""
        if self.dense is not None:
            return np.diag(self.dense).copy()
        return self.factor.inverse_diagonal()

    def block(self, indices) -> np.ndarray:
        r""":math:`\Sigma` restricted to the parameters at ``indices`` (rows and columns)."""
        indices = np.asarray(indices, dtype=int)
        if self.dense is not None:
            return self.dense[np.ix_(indices, indices)]
        block = self.factor.inverse_columns(indices)[indices]
        return 0.5 * (block + block.T)


def fit_covariance(fit: xr.Dataset | xr.DataTree) -> FitCovariance:
    """The covariance of a :func:`~pmfisher.laplace` ``fit`` group (a Dataset or DataTree
    node), dense or sparse as stored."""
    labels = tuple(str(label) for label in fit["mean_vector"]["param"].values)
    if "covariance_matrix" in fit:
        return FitCovariance(labels, np.asarray(fit["covariance_matrix"].values, "float64"), None)
    if "precision_matrix" not in fit:
        raise ArgumentError(
            "the fit group holds neither a covariance_matrix nor a precision_matrix: it is not "
            "a pmfisher.laplace fit."
        )
    precision = fit["precision_matrix"].data
    if not hasattr(precision, "tocsr"):
        raise ArgumentError(
            "the fit group's precision_matrix is dense but there is no covariance_matrix: it "
            "is not a pmfisher.laplace fit."
        )
    factor = sparse_positive_definite(
        precision.tocsr(), labels, what="precision matrix of the Laplace fit"
    )
    return FitCovariance(labels, None, factor)
