"""The optimizer runs of :func:`~pmfisher.fitting.mode.find_mode`.

A log-density with a dense Hessian of up to ``DENSE_HESSIAN_LIMIT`` parameters is maximized by
scipy's ``trust-exact`` on its exact Hessian; a larger one by ``trust-krylov`` on exact
Hessian-vector products (or the sparse Hessian, formed once per iterate); the Laplace marginal,
whose Hessian costs a pass per hyperparameter, by BFGS on its exact gradient, stopped once the
gradient is resolved and polished by a few exact-Hessian Newton steps.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from pmfisher._core.compiled.compilation import few_calls_backend
from pmfisher._core.curvature.sparse_hessian import SparseHessian

__all__ = ["DENSE_HESSIAN_LIMIT", "GRADIENT_TOLERANCE", "converged", "newton_search"]

# Above this many parameters the dense Hessian is replaced by Hessian-vector products.
DENSE_HESSIAN_LIMIT = 400
# Convergence: gradient norm below this, relative to the scale of the log-density.
GRADIENT_TOLERANCE = 1e-6
# Exact-Hessian Newton steps that polish a quasi-Newton search of the Laplace marginal.
POLISH_STEPS = 3


class _NonFiniteHessian(ArithmeticError):
    """The Hessian overflowed: the density is running off to infinity."""


class _Resolved(Exception):
    """A quasi-Newton search has reached a gradient as small as the polish would leave it.

    BFGS's own ``gtol`` is absolute; where :math:`|\\log p|` is large, its line searches go
    on where the density no longer resolves any decrease ("precision loss"): on the
    20,000-group Laplace marginal (:math:`|\\log p|` 3·10⁵) 86 of 100 evaluations came after
    the 14th had met this criterion.
    """


def _resolved(fun: float, jac: np.ndarray) -> bool:
    """The gradient is as small as a polished search leaves it, relative to the density."""
    return bool(np.isfinite(fun)) and float(np.linalg.norm(jac)) <= (
        1e-3 * GRADIENT_TOLERANCE * max(1.0, abs(fun))
    )


def newton_search(graph, x0: np.ndarray, chosen: str, *, quasi_newton: bool):
    """One search for a maximum of ``graph``'s log-density from ``x0`` (module docstring);
    the scipy result, or a failed one where the search broke off."""
    last = {"x": x0, "fun": np.inf, "jac": np.full_like(x0, np.inf), "nit": 0}
    # Built before the search, so that a model without the derivatives is an error that
    # names it, not a search that fails (the optimizer's ValueErrors are caught below).
    logp_and_grad = graph.logp_and_grad_fn
    if quasi_newton:
        curvature, hessian_product = graph.hessian_fn, None
    elif chosen == "sparse":
        hessian_product = _SparseHessianProduct(graph)
    elif graph.size > DENSE_HESSIAN_LIMIT:
        vector_product = graph.hessian_vector_fn

        def hessian_product(x, vector):
            return -vector_product(x, vector)
    else:
        curvature, hessian_product = graph.hessian_fn, None

    def negative_logp_and_grad(x):
        logp, grad = logp_and_grad(x)
        if not np.isfinite(logp):
            return np.inf, np.zeros_like(x)
        last.update(x=x, fun=-logp, jac=-grad, nit=last["nit"] + 1)
        return -logp, -grad

    def bfgs_objective(x):
        fun, jac = negative_logp_and_grad(x)
        if _resolved(fun, jac):
            raise _Resolved
        return fun, jac

    def negative_hessian(x):
        negative = -curvature(x)
        if not np.all(np.isfinite(negative)):
            raise _NonFiniteHessian
        return negative

    options = {"gtol": 1e-3 * GRADIENT_TOLERANCE, "maxiter": 500}
    try:
        with np.errstate(all="ignore"):
            if quasi_newton:
                try:
                    result = optimize.minimize(
                        bfgs_objective, x0, jac=True, method="BFGS", options=options
                    )
                except _Resolved:
                    result = optimize.OptimizeResult(success=True, **last)
                return _polished(result, negative_logp_and_grad, negative_hessian)
            if hessian_product is None:
                return optimize.minimize(
                    negative_logp_and_grad,
                    x0,
                    jac=True,
                    hess=negative_hessian,
                    method="trust-exact",
                    options=options,
                )
            return optimize.minimize(
                negative_logp_and_grad,
                x0,
                jac=True,
                hessp=hessian_product,
                method="trust-krylov",
                options=options,
            )
    except (_NonFiniteHessian, np.linalg.LinAlgError, UnboundLocalError, ValueError):
        # scipy's trust-region subproblem solvers break on overflowing curvature (one raises
        # UnboundLocalError), which happens as the density runs off to infinity: this search
        # failed where it last stood, and the caller diagnoses why.
        return optimize.OptimizeResult(success=False, **last)


def _polished(result, negative_logp_and_grad, negative_hessian):
    """``result`` of a quasi-Newton search after up to ``POLISH_STEPS`` Newton steps on the
    exact Hessian, each kept only if it lowers the gradient norm without losing density, until
    the gradient is as small as the trust-region searches make it. BFGS stops short of that
    where the objective no longer resolves its own decrease; one Newton step from there makes
    the gradient quadratically smaller (the standard errors of a marginal MLE need it)."""
    for _ in range(POLISH_STEPS):
        norm = float(np.linalg.norm(result.jac))
        if not np.isfinite(result.fun) or _resolved(result.fun, result.jac):
            break
        try:
            step = -np.linalg.solve(negative_hessian(result.x), result.jac)
        except (_NonFiniteHessian, np.linalg.LinAlgError):
            break
        fun, jac = negative_logp_and_grad(result.x + step)
        rounding = 1e-12 * max(1.0, abs(result.fun))
        if not (fun <= result.fun + rounding and np.linalg.norm(jac) < norm):
            break
        result.x, result.fun, result.jac, result.nit = result.x + step, fun, jac, result.nit + 1
    return result


class _SparseHessianProduct:
    """``(x, v) ↦ -H(x) v`` with the sparse Hessian formed once per iterate ``x``: the
    trust-region subproblem asks for many products at the same ``x``."""

    def __init__(self, graph):
        self.hessian = graph.companion(SparseHessian)
        self.backend, self.at, self.negative = few_calls_backend(graph.size), None, None

    def __call__(self, x: np.ndarray, vector: np.ndarray) -> np.ndarray:
        if self.at is None or not np.array_equal(self.at, x):
            negative = -self.hessian(x, backend=self.backend)
            if not np.all(np.isfinite(negative.data)):
                raise _NonFiniteHessian
            self.at, self.negative = np.array(x), negative
        return self.negative @ vector


def converged(result) -> bool:
    """The gradient is small relative to the log-density (``GRADIENT_TOLERANCE``)."""
    if not np.isfinite(result.fun):
        return False
    return float(np.linalg.norm(result.jac)) <= GRADIENT_TOLERANCE * max(1.0, abs(result.fun))
