r"""Sparse positive-definite precision matrices: CHOLMOD's Cholesky factor and what it gives.

CHOLMOD (through scikit-sparse) factorizes :math:`P A P^\top = L L^\top` with a fill-reducing
permutation :math:`P` chosen by its own analysis (AMD, or METIS/NESDIS when they fill less).
From the factor come, without any dense d × d intermediate,

* the log-determinant :math:`\log\det A = 2 \sum_i \log L_{ii}`,
* draws :math:`x = P^\top L^{-\top} z` with :math:`z \sim \mathcal N(0, I)`, whose covariance
  is :math:`P^\top L^{-\top} L^{-1} P = A^{-1}`,
* solves :math:`A^{-1} b` (the Newton step),
* selected entries of the inverse: the quadratic forms :math:`g^\top A^{-1} g`, each
  :math:`\lVert L^{-1} P g \rVert^2` (one triangular solve), which for unit vectors are the
  diagonal of :math:`A^{-1}` (marginal variances), and the columns :math:`A^{-1} e_j` of a
  few selected parameters. scikit-sparse 0.4 offers no selected inversion (Takahashi
  recurrence), so the diagonal is found by solves against unit vectors in chunks whose
  right-hand sides take at most :data:`SOLVE_BYTES`; the cost is about ``d`` triangular
  solves, :math:`O(d \cdot \mathrm{nnz}(L))`, and nothing d × d is ever held.

When the factorization fails the matrix is not positive definite; the few smallest
eigenvalues (Lanczos, ``scipy.sparse.linalg.eigsh``) and the parameters that load on their
eigenvectors are reported as for a dense matrix
(:func:`pmfisher._core.linalg.definiteness.positive_definite`).

scikit-sparse is pinned below 0.5: 0.5 rewrote the CHOLMOD interface and needs SuiteSparse 7,
while Debian 12 (the project's reference system) ships SuiteSparse 5.12.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as sparse_linalg
from sksparse.cholmod import CholmodNotPositiveDefiniteError, CholmodTypeConversionWarning
from sksparse.cholmod import cholesky as cholmod_cholesky

from pmfisher._core.linalg.definiteness import (
    REPORTED_EIGENVALUES,
    _loadings,
    identifiability_report,
)
from pmfisher._core.linalg.selected_inverse import selected_inverse
from pmfisher._core.model import labelled
from pmfisher._core.options import NotPositiveDefinite, check_option
from pmfisher.errors import NotPositiveDefiniteError

__all__ = ["SOLVE_BYTES", "SparsePositiveDefinite", "sparse_positive_definite"]

#: Right-hand sides of a chunked solve (d × chunk float64s) take at most this many bytes.
SOLVE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class SparsePositiveDefinite:
    """A sparse positive definite precision matrix and its CHOLMOD factor."""

    matrix: sparse.csc_array
    factor: object  # sksparse.cholmod.Factor
    # Never regularized: see sparse_positive_definite.
    regularization: ClassVar[str] = ""

    @property
    def log_determinant(self) -> float:
        r""":math:`\log\det A`."""
        return float(self.factor.logdet())

    def deviations(self, standard: np.ndarray) -> np.ndarray:
        r"""Draws of :math:`\mathcal N(0, A^{-1})` from standard normal rows ``standard``
        (draws × d): :math:`P^\top L^{-\top} z` per row."""
        solved = self.factor.solve_Lt(np.asarray(standard.T), use_LDLt_decomposition=False)
        return np.asarray(self.factor.apply_Pt(solved)).T

    def solve(self, vector: np.ndarray) -> np.ndarray:
        r""":math:`A^{-1} b`."""
        return np.asarray(self.factor(vector))

    def inverse_quadratic_forms(self, vectors) -> np.ndarray:
        r""":math:`g_k^\top A^{-1} g_k` for every column :math:`g_k` of ``vectors`` (d × k,
        dense or SciPy sparse), as :math:`\lVert L^{-1} P g_k \rVert^2`, in chunks of
        columns whose dense right-hand sides stay within :data:`SOLVE_BYTES`."""
        size, count = vectors.shape
        chunk = max(1, SOLVE_BYTES // (8 * size))
        forms = np.empty(count)
        for start in range(0, count, chunk):
            columns = vectors[:, start : start + chunk]
            columns = columns.toarray() if sparse.issparse(columns) else np.asarray(columns)
            solved = self.factor.solve_L(
                self.factor.apply_P(np.asarray(columns, dtype="float64")),
                use_LDLt_decomposition=False,
            )
            forms[start : start + chunk] = np.einsum("ij,ij->j", solved, solved)
        return forms

    def inverse_entries(self, rows, cols) -> np.ndarray:
        r""":math:`(A^{-1})_{ij}` for the pairs ``(rows, cols)`` on the pattern of :math:`A`,
        by the selected inverse of the factor (:mod:`pmfisher._core.linalg.selected_inverse`):
        memory of the factor's size, never the dense inverse."""
        position = np.argsort(self.factor.P())  # the factor's row of each coordinate
        return selected_inverse(
            sparse.csc_array(self.factor.L()),
            (position[np.asarray(rows)], position[np.asarray(cols)]),
        )

    def inverse_diagonal(self) -> np.ndarray:
        r"""The diagonal of :math:`A^{-1}` (the marginal variances of :math:`N(\cdot, A^{-1})`),
        exactly."""
        diagonal = np.arange(self.matrix.shape[0])
        return self.inverse_entries(diagonal, diagonal)

    def inverse_columns(self, indices) -> np.ndarray:
        r"""The columns :math:`A^{-1} e_j`, ``j`` in ``indices`` (d × len(indices)); their
        rows at ``indices`` are the covariance block of those parameters."""
        indices = np.asarray(indices, dtype=int)
        units = np.zeros((self.matrix.shape[0], indices.size))
        units[indices, np.arange(indices.size)] = 1.0
        return np.asarray(self.factor(units))

    def fit_variables(self, labels) -> dict:
        """The labelled sparse precision; a covariance would be dense, so there is none."""
        return {
            "precision_matrix": labelled.sparse_square(self.matrix, labels, name="precision_matrix")
        }


def sparse_positive_definite(
    matrix: sparse.sparray, labels, *, what: str, action: NotPositiveDefinite = "raise"
) -> SparsePositiveDefinite:
    """Factorize the symmetric sparse ``matrix`` or raise a
    :class:`~pmfisher.errors.NotPositiveDefiniteError` that names its smallest eigenvalues
    and the parameters that load on them.

    Regularizing the eigenvalues, as the dense route does on request, needs every
    eigenvector; on the sparse route ``action="regularize"`` therefore raises too, saying so.

    Examples
    --------
    >>> from scipy import sparse
    >>> precision = sparse.csc_array([[2.0, 1.0], [1.0, 2.0]])
    >>> round(sparse_positive_definite(precision, ["a", "b"], what="p").log_determinant, 6)
    1.098612
    """
    check_option("not_positive_definite", action, NotPositiveDefinite)
    matrix = sparse.csc_array(matrix, dtype="float64")
    labels = list(labels)
    if not np.all(np.isfinite(matrix.data)):
        rows = np.unique(matrix.tocoo().row[~np.isfinite(matrix.tocoo().data)])
        bad = [labels[row] for row in rows]
        raise NotPositiveDefiniteError(
            f"the {what} has non-finite entries in the rows of {', '.join(bad[:10])}.",
            eigenvalues=np.array([np.nan]),
            loadings=dict.fromkeys(bad, np.nan),
        )
    try:
        with warnings.catch_warnings():
            # scikit-sparse 0.4 converts SciPy's csc_array to its csc_matrix, and says so.
            warnings.simplefilter("ignore", CholmodTypeConversionWarning)
            factor = cholmod_cholesky(sparse.csc_matrix(matrix), mode="supernodal")
    except CholmodNotPositiveDefiniteError:
        pass
    else:
        return SparsePositiveDefinite(matrix, factor)
    eigenvalues, eigenvectors = _smallest_eigenpairs(matrix)
    report = identifiability_report(
        eigenvalues, eigenvectors, labels, range(min(REPORTED_EIGENVALUES, eigenvalues.size))
    )
    instead = (
        " Regularizing needs every eigenvector, which the sparse route does not form: pass "
        "structure='dense' (if d × d fits in memory) to regularize."
        if action == "regularize"
        else " Pass not_positive_definite='regularize' with structure='dense' to proceed with "
        "a regularized matrix."
    )
    raise NotPositiveDefiniteError(
        f"the {what} is not positive definite: {report}. The density does not curve "
        "downwards along these directions — the parameters are not identified there (add "
        "information or a proper prior, or fix one of them), or the point is a saddle." + instead,
        eigenvalues=eigenvalues[:REPORTED_EIGENVALUES],
        loadings=_loadings(eigenvectors[:, 0], labels),
    )


def _smallest_eigenpairs(matrix: sparse.csc_array) -> tuple[np.ndarray, np.ndarray]:
    """The few algebraically smallest eigenvalues and their eigenvectors, ascending."""
    size = matrix.shape[0]
    count = min(REPORTED_EIGENVALUES, size - 1)
    if count < 1 or size <= 200:
        eigenvalues, eigenvectors = np.linalg.eigh(matrix.toarray())
        return eigenvalues[:REPORTED_EIGENVALUES], eigenvectors[:, :REPORTED_EIGENVALUES]
    eigenvalues, eigenvectors = sparse_linalg.eigsh(matrix, k=count, which="SA")
    order = np.argsort(eigenvalues)
    return eigenvalues[order], eigenvectors[:, order]
