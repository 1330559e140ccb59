"""Positive definiteness of a precision matrix, and the identifiability report when it fails.

A negative Hessian at a mode is a precision matrix only if it is positive definite. When it is
not, the eigenvectors of its smallest eigenvalues say which combinations of parameters the
density does not curve along: the directions the data (and prior) leave unidentified, or
along which the point is a saddle. That report is raised as a
:class:`~pmfisher.errors.NotPositiveDefiniteError`, or — on request — the matrix is
regularized and what was done is returned so that it can be recorded on the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

from pmfisher._core.options import NotPositiveDefinite, check_option
from pmfisher.errors import NotFiniteError, NotPositiveDefiniteError

__all__ = [
    "NotPositiveDefinite",
    "PositiveDefinite",
    "cholesky_or_none",
    "flat_directions",
    "positive_definite",
    "require_finite",
    "shifted_cholesky",
]


# Eigenvalues reported, and parameters named per eigenvector.
REPORTED_EIGENVALUES = 3
REPORTED_LOADINGS = 5
# Regularization floors every eigenvalue at this fraction of the largest one.
REGULARIZATION_FLOOR = 1e-6


@dataclass(frozen=True)
class PositiveDefinite:
    """A positive definite precision matrix with its Cholesky factor.

    ``regularization`` is ``""`` when the matrix was positive definite as given, otherwise a
    sentence saying which eigenvalues were replaced by which.
    """

    matrix: np.ndarray
    cholesky: np.ndarray
    regularization: str = ""

    def inverse(self) -> np.ndarray:
        """The inverse matrix (a covariance, for a precision), from the Cholesky factor."""
        identity = np.eye(len(self.matrix))
        inverse = linalg.cho_solve((self.cholesky, True), identity)
        return 0.5 * (inverse + inverse.T)

    @property
    def log_determinant(self) -> float:
        """:math:`\\log\\det H`, from the Cholesky factor :math:`H = LL^\top`."""
        return 2.0 * float(np.log(np.diag(self.cholesky)).sum())

    def solve(self, vector: np.ndarray) -> np.ndarray:
        """:math:`H^{-1} b`, from the Cholesky factor."""
        return linalg.cho_solve((self.cholesky, True), vector)

    def deviations(self, standard: np.ndarray) -> np.ndarray:
        r""":math:`L^{-\top} z` for every row :math:`z` of ``standard``: draws of
        :math:`N(0, H^{-1})` from standard normal ones (the same interface as
        :class:`~pmfisher._core.linalg.sparse_cholesky.SparsePositiveDefinite`)."""
        return linalg.solve_triangular(self.cholesky, standard.T, lower=True, trans="T").T


def require_finite(values: np.ndarray, labels, what: str) -> None:
    """A :class:`~pmfisher.errors.PMFisherError` naming the parameters whose entries of
    ``values`` (a vector, a matrix or a stack of them over parameters in the last axis, or a
    SciPy sparse matrix) are not finite."""
    if sparse.issparse(values):
        rows = np.zeros(values.shape[0], dtype=bool)
        if not np.isfinite(values.data).all():  # the stored values alone, before any copy
            coo = sparse.coo_array(values)
            rows[coo.row[~np.isfinite(coo.data)]] = True
    else:
        bad = ~np.isfinite(values)
        rows = bad.reshape(-1, bad.shape[-1]).any(axis=0)
    if rows.any():
        names = [label for label, row in zip(labels, rows, strict=True) if row]
        raise NotFiniteError(
            f"{what} is not finite in the entries of {', '.join(names)}: the density is not "
            "twice differentiable there, or the point is at the edge of the parameter space."
        )


def positive_definite(
    matrix: np.ndarray,
    labels,
    *,
    what: str,
    action: NotPositiveDefinite = "raise",
    advice: str = "Pass not_positive_definite='regularize' to proceed with a regularized matrix.",
) -> PositiveDefinite:
    r"""Check that ``matrix`` is numerically positive definite, and act if it is not.

    The matrix counts as positive definite when its smallest eigenvalue exceeds the numerical
    rank tolerance :math:`d\,\epsilon\,\lambda_{\max}` (as in ``numpy.linalg.matrix_rank``)
    and its Cholesky factorization succeeds. Otherwise ``action="raise"`` raises a
    :class:`NotPositiveDefiniteError` naming the smallest eigenvalues and the parameters that
    load on their eigenvectors; ``action="regularize"`` replaces every eigenvalue by
    :math:`\max(|\lambda|, 10^{-6}\lambda_{\max})` — a saddle direction is reflected, a flat
    direction gets a small but positive curvature, i.e. a large variance. ``advice`` ends the
    error's message: what the caller's user can do.

    Examples
    --------
    >>> import numpy as np
    >>> positive_definite(np.diag([2.0, 1.0]), ["a", "b"], what="precision").regularization
    ''
    >>> try:
    ...     positive_definite(np.ones((2, 2)), ["a", "b"], what="precision")
    ... except NotPositiveDefiniteError as error:
    ...     print(sorted(error.loadings))
    ['a', 'b']
    """
    check_option("not_positive_definite", action, NotPositiveDefinite)
    matrix = np.asarray(matrix, dtype="float64")
    labels = list(labels)
    if not np.all(np.isfinite(matrix)):
        bad = [label for label, row in zip(labels, ~np.isfinite(matrix), strict=True) if row.any()]
        raise NotPositiveDefiniteError(
            f"the {what} has non-finite entries in the rows of {', '.join(bad)}.",
            eigenvalues=np.array([np.nan]),
            loadings=dict.fromkeys(bad, np.nan),
        )
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    scale = max(float(np.abs(eigenvalues).max()), np.finfo(float).tiny)
    tolerance = matrix.shape[0] * np.finfo(float).eps * scale
    if eigenvalues[0] > tolerance:
        try:
            return PositiveDefinite(matrix, np.linalg.cholesky(matrix))
        except np.linalg.LinAlgError:
            pass
    bad = np.flatnonzero(eigenvalues <= tolerance)[:REPORTED_EIGENVALUES]
    if bad.size == 0:
        bad = np.array([0])
    report = identifiability_report(eigenvalues, eigenvectors, labels, bad)
    if action == "raise":
        raise NotPositiveDefiniteError(
            f"the {what} is not positive definite: {report}. The density does not curve "
            "downwards along these directions — the parameters are not identified there (add "
            "information or a proper prior, or fix one of them), or the point is a saddle. "
            + advice,
            eigenvalues=eigenvalues[:REPORTED_EIGENVALUES],
            loadings=_loadings(eigenvectors[:, bad[0]], labels),
        )
    floor = REGULARIZATION_FLOOR * scale
    repaired = np.maximum(np.abs(eigenvalues), floor)
    regularized = (eigenvectors * repaired) @ eigenvectors.T
    regularized = 0.5 * (regularized + regularized.T)
    changed = np.flatnonzero(repaired != eigenvalues)
    regularization = (
        f"the {what} was not positive definite ({report}); eigenvalues "
        f"{_numbers(eigenvalues[changed])} were replaced by {_numbers(repaired[changed])} "
        f"(|λ| floored at {REGULARIZATION_FLOOR:g} × λ_max = {floor:.3g})"
    )
    return PositiveDefinite(regularized, np.linalg.cholesky(regularized), regularization)


# A direction along which the curvature is below this fraction of the largest is flat: the
# Hessian's own rounding (and that of special functions, about √ε) cannot tell it from zero.
FLAT_TOLERANCE = np.sqrt(np.finfo(float).eps)


def flat_directions(matrix: np.ndarray, labels) -> str:
    """The identifiability report of the directions along which the symmetric ``matrix`` (a
    negative Hessian) is numerically zero — ``|λ| ≤ FLAT_TOLERANCE · λ_max`` — or ``""``.

    Examples
    --------
    >>> flat_directions(np.array([[1.0, 1.0], [1.0, 1.0]]), ["a", "b"])
    'eigenvalue 0 along a (+0.71), b (-0.71)'
    >>> flat_directions(np.diag([2.0, 1.0]), ["a", "b"])
    ''
    """
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(matrix, dtype="float64"))
    scale = float(np.abs(eigenvalues).max(initial=0.0))
    flat = np.flatnonzero(np.abs(eigenvalues) <= FLAT_TOLERANCE * scale)[:REPORTED_EIGENVALUES]
    if scale == 0.0 or flat.size == 0:
        return ""
    return identifiability_report(eigenvalues, eigenvectors, list(labels), flat)


def identifiability_report(eigenvalues, eigenvectors, labels, indices) -> str:
    """One clause per eigenvalue: its value and the parameters with the largest weights."""
    clauses = []
    for index in indices:
        loadings = _loadings(eigenvectors[:, index], labels)
        named = ", ".join(f"{label} ({weight:+.2f})" for label, weight in loadings.items())
        clauses.append(f"eigenvalue {eigenvalues[index]:.3g} along {named}")
    return "; ".join(clauses)


def _loadings(vector: np.ndarray, labels) -> dict[str, float]:
    """The parameters carrying the eigenvector (largest absolute weights, at least 10% of the
    largest), label → weight, sign fixed so that the largest weight is positive."""
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    order = np.argsort(-np.abs(vector))[:REPORTED_LOADINGS]
    keep = order[np.abs(vector[order]) >= 0.1 * np.abs(vector[order[0]])]
    return {labels[i]: float(vector[i]) for i in keep}


def _numbers(values) -> str:
    return "[" + ", ".join(f"{value:.3g}" for value in values) + "]"


def cholesky_or_none(matrix: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of ``matrix``, or ``None`` if it is not finite and positive
    definite."""
    if not np.all(np.isfinite(matrix)):
        return None
    try:
        return linalg.cholesky(matrix, lower=True)
    except linalg.LinAlgError:
        return None


def shifted_cholesky(matrix: np.ndarray) -> np.ndarray:
    """The factor of ``matrix + τI`` with the smallest τ = 10^k·scale that makes it positive
    definite: an ascent direction where the Hessian is not negative definite."""
    scale = max(float(np.abs(np.diag(matrix)).max()), 1.0)
    for power in range(-8, 17):
        factor = cholesky_or_none(matrix + 10.0**power * scale * np.eye(matrix.shape[0]))
        if factor is not None:
            return factor
    return np.sqrt(scale) * np.eye(matrix.shape[0])
