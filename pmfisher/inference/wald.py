r"""Wald inference from a covariance matrix: standard errors, z, p and intervals, with the
rows a singular information leaves unidentified marked rather than filled with numbers.

.. math::

    \mathrm{se}_k = \sqrt{\Sigma_{kk}}, \qquad z_k = \hat\theta_k / \mathrm{se}_k, \qquad
    p_k = 2\,\Phi(-|z_k|), \qquad \hat\theta_k \pm \Phi^{-1}\!\big(\tfrac{1 + \text{level}}{2}
    \big)\,\mathrm{se}_k .
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from pmfisher._core.linalg.definiteness import FLAT_TOLERANCE, flat_directions

__all__ = ["Covariance", "covariance_from_information", "normal_quantile", "wald_columns"]

# A parameter whose weight on a null direction of the information exceeds this is not
# identified by it (its variance has no finite value).
NULL_WEIGHT = 1e-6


@dataclass(frozen=True)
class Covariance:
    """A covariance matrix over parameters, with ``unidentified`` (a boolean per parameter)
    where the information was singular or indefinite, and ``reason`` saying so (or ``""``).
    On unidentified rows and columns the matrix holds ``NaN``: they have no variance."""

    matrix: np.ndarray
    unidentified: np.ndarray
    reason: str = ""


def covariance_from_information(information: np.ndarray, labels) -> Covariance:
    r"""The inverse of a symmetric information matrix, restricted to the parameters it
    identifies.

    On its eigendecomposition :math:`J = \sum_i \lambda_i v_i v_i^\top`, the directions with
    :math:`\lambda_i \le \sqrt{\varepsilon}\,\lambda_{\max}` (flat, or curving the wrong way)
    carry no information; a parameter with weight on one of them is unidentified and gets
    ``NaN``, the others the inverse over the informative directions (the Moore–Penrose
    inverse, which is the inverse itself when :math:`J` is positive definite).

    Examples
    --------
    >>> found = covariance_from_information(np.array([[4.0, 0.0], [0.0, 0.0]]), ["a", "b"])
    >>> found.matrix[0, 0], bool(found.unidentified[1])
    (np.float64(0.25), True)
    """
    information = np.asarray(information, dtype="float64")
    information = 0.5 * (information + information.T)
    eigenvalues, eigenvectors = np.linalg.eigh(information)
    scale = float(np.abs(eigenvalues).max(initial=0.0))
    bad = eigenvalues <= FLAT_TOLERANCE * scale
    kept = ~bad
    matrix = (eigenvectors[:, kept] / eigenvalues[kept]) @ eigenvectors[:, kept].T
    unidentified = np.zeros(len(information), dtype=bool)
    reason = ""
    if bad.any():
        unidentified = (np.abs(eigenvectors[:, bad]) > NULL_WEIGHT).any(axis=1)
        matrix[unidentified, :] = np.nan
        matrix[:, unidentified] = np.nan
        flat = flat_directions(information, labels)
        negative = eigenvalues[eigenvalues < -FLAT_TOLERANCE * scale]
        reason = "the information matrix is singular" if flat else "the information matrix"
        if negative.size:
            reason += (
                f" is not positive definite (smallest eigenvalue {negative[0]:.4g}): the point is "
                "not a maximum"
            )
        if flat:
            reason += f": {flat}"
        reason += "; these parameters have no standard error."
    return Covariance(matrix, unidentified, reason)


def normal_quantile(level: float) -> float:
    """The standard normal quantile of a two-sided interval of coverage ``level``.

    Examples
    --------
    >>> round(normal_quantile(0.95), 6)
    1.959964
    """
    return float(special.ndtri(0.5 + 0.5 * level))


def wald_columns(estimates, errors, level: float) -> dict[str, np.ndarray]:
    """``se``, ``z``, ``p``, ``lower``, ``upper`` of the Wald table (``NaN`` where ``se`` is).

    Examples
    --------
    >>> columns = wald_columns(np.array([1.0]), np.array([0.5]), 0.95)
    >>> float(columns["z"][0]), round(float(columns["lower"][0]), 4)
    (2.0, 0.02)
    """
    estimates, errors = np.asarray(estimates, "float64"), np.asarray(errors, "float64")
    quantile = normal_quantile(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimates / errors
    return {
        "se": errors,
        "z": z,
        "p": 2.0 * special.ndtr(-np.abs(z)),
        "lower": estimates - quantile * errors,
        "upper": estimates + quantile * errors,
    }
