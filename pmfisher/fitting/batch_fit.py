"""Maximum likelihood for many data sets at once (simulation studies).

:func:`fit_batch` maximizes the likelihood of every replicate data set by damped Newton
steps vectorized over replicates, on the batched likelihood of
:mod:`pmfisher._core.data.data_likelihood`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm

from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher.fitting.newton_search import GRADIENT_TOLERANCE

__all__ = ["BatchFit", "fit_batch"]

NEWTON_MAX_ITER = 100
LINE_SEARCH_HALVINGS = 30


@dataclass(frozen=True)
class BatchFit:
    """The MLE of each replicate data set.

    Attributes
    ----------
    x : numpy.ndarray
        ``(R, d)`` flat MLEs in the unconstrained space (the search space).
    constrained : numpy.ndarray
        ``(R, d)`` the same MLEs, flat in the constrained space.
    logp : numpy.ndarray
        ``(R,)`` log-likelihood at the MLE.
    grad_norm : numpy.ndarray
        ``(R,)`` Euclidean norm of the gradient at the MLE (unconstrained space).
    converged : numpy.ndarray
        ``(R,)`` bool, the gradient criterion of :func:`pmfisher.find_mode` was met.
    n_iter : int
        Newton iterations of the slowest replicate.
    """

    x: np.ndarray
    constrained: np.ndarray
    logp: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    n_iter: int


def fit_batch(model: pm.Model | None, data: Mapping, start) -> BatchFit:
    """Maximize the likelihood of every replicate data set at once.

    Damped Newton steps in the unconstrained space, vectorized over replicates: the Hessian
    is made negative definite by flipping and flooring its eigenvalues, and each replicate
    halves its own step until the log-likelihood rises (Armijo). A replicate has converged
    when its gradient norm is below ``GRADIENT_TOLERANCE · max(1, |logp|)``, as in
    :func:`pmfisher.find_mode`; it stops iterating a thousand times below that (or when no
    step raises its log-likelihood any more).

    Parameters
    ----------
    model : pm.Model or None
    data : mapping
        Observed name → ``(R, *shape)`` arrays, as returned by :func:`simulate_data`.
    start : dict, Mode or numpy.ndarray
        A point (constrained, shared by all replicates), or flat unconstrained starts
        ``(d,)`` or ``(R, d)``.
    """
    like = data_likelihood(model, space="unconstrained")
    replicates = len(next(iter(data.values())))
    if isinstance(start, np.ndarray):
        x = np.array(np.broadcast_to(start, (replicates, like.graph.size)), dtype="float64")
    else:
        x = np.tile(like.graph.flatten(start), (replicates, 1))
    logp, grad, hessian = like.logp_grad_hessian(x, data)
    active = np.ones(replicates, dtype=bool)
    iteration = 0
    while iteration < NEWTON_MAX_ITER:
        iteration += 1
        norm = np.linalg.norm(grad, axis=1)
        # Newton converges quadratically: iterate well past the convergence criterion.
        target = 1e-3 * GRADIENT_TOLERANCE * np.maximum(1.0, np.abs(logp))
        active = ~(np.isfinite(logp) & (norm <= target))
        if not active.any():
            break
        rows = np.flatnonzero(active)
        step = _newton_direction(grad[rows], hessian[rows])
        sub_data = {name: data[name][rows] for name in like.names}
        scale = np.ones(len(rows))
        pending = np.ones(len(rows), dtype=bool)
        new = (x[rows].copy(), logp[rows].copy(), grad[rows].copy(), hessian[rows].copy())
        for _ in range(LINE_SEARCH_HALVINGS):
            trial_rows = np.flatnonzero(pending)
            trial = x[rows][trial_rows] + scale[trial_rows, None] * step[trial_rows]
            with np.errstate(all="ignore"):
                t_logp, t_grad, t_hess = like.logp_grad_hessian(
                    trial, {name: value[trial_rows] for name, value in sub_data.items()}
                )
            slope = np.einsum("ij,ij->i", grad[rows][trial_rows], step[trial_rows])
            accepted = np.isfinite(t_logp) & (
                t_logp >= logp[rows][trial_rows] + 1e-4 * scale[trial_rows] * slope
            )
            accepted &= np.isfinite(t_grad).all(axis=1)
            for target, value in zip(new, (trial, t_logp, t_grad, t_hess), strict=True):
                target[trial_rows[accepted]] = value[accepted]
            pending[trial_rows[accepted]] = False
            scale[trial_rows[~accepted]] *= 0.5
            if not pending.any():
                break
        x[rows], logp[rows], grad[rows], hessian[rows] = new
        if pending.all():
            break  # no replicate can make progress
    norm = np.linalg.norm(grad, axis=1)
    converged = np.isfinite(logp) & (norm <= GRADIENT_TOLERANCE * np.maximum(1.0, np.abs(logp)))
    return BatchFit(
        x=x,
        constrained=like.to_constrained(x),
        logp=logp,
        grad_norm=norm,
        converged=converged,
        n_iter=iteration,
    )


def _newton_direction(grad: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Ascent directions ``(−H)⁻¹ g`` with ``−H`` made positive definite eigenvalue-wise."""
    eigenvalues, vectors = np.linalg.eigh(-hessian)
    magnitude = np.abs(eigenvalues)
    floor = 1e-8 * np.maximum(magnitude.max(axis=1, keepdims=True), 1.0)
    inverse = 1.0 / np.maximum(magnitude, floor)
    projected = np.einsum("rji,rj->ri", vectors, grad)
    return np.einsum("rij,rj->ri", vectors, inverse * projected)
