"""Finding the mode of a model's likelihood (MLE) or posterior (MAP)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
from scipy import optimize

from pmfisher._core.model_graph import model_graph, resolve_model
from pmfisher._core.options import Space, Terms, check_option
from pmfisher.errors import PMFisherError

__all__ = ["Mode", "find_mode"]

# Above this many parameters the dense Hessian is replaced by Hessian-vector products.
DENSE_HESSIAN_LIMIT = 400
# Convergence: gradient norm below this, relative to the scale of the log-density.
GRADIENT_TOLERANCE = 1e-6
RESTARTS = 4
# An unconstrained coordinate beyond this magnitude (exp(15) ≈ 3e6) has run off to infinity.
RUNAWAY = 15.0


@dataclass(frozen=True)
class Mode:
    """A mode of the log-density of ``terms`` in ``space``.

    Attributes
    ----------
    point : dict[str, numpy.ndarray]
        The mode as free-variable name → value in the constrained space (all :math:`K`
        entries of a simplex or zero-sum vector).
    x : numpy.ndarray
        The mode as a flat vector in ``space`` (there, a simplex or zero-sum vector has its
        free coordinates only; see :func:`pmfisher.observed_information`).
    logp : float
        The log-density of ``terms`` at the mode, in ``space``.
    grad_norm : float
        Euclidean norm of the gradient at the mode, in ``space``.
    converged : bool
        Whether ``grad_norm`` fell below the tolerance.
    n_iter : int
        Optimizer iterations, summed over starts.
    labels : tuple[str, ...]
        One label per entry of ``x``.
    terms, space : str
        Which density was maximized, in which coordinates.
    message : str
        Why no mode was found (``""`` when ``converged``): which coordinates ran off to
        infinity while the density kept growing, or that the optimizer stalled.
    """

    point: dict[str, np.ndarray] = field(repr=False)
    x: np.ndarray
    logp: float
    grad_norm: float
    converged: bool
    n_iter: int
    labels: tuple[str, ...] = field(repr=False)
    terms: str
    space: str
    message: str = field(default="", repr=False)


def find_mode(
    *,
    model: pm.Model | None = None,
    terms: Terms = "posterior",
    space: Space = "unconstrained",
    start: dict | None = None,
    random_seed=None,
) -> Mode:
    r"""Maximize the model's log-likelihood (``terms="likelihood"``) or log-posterior.

    The search always runs in the unconstrained coordinates, so that it never steps out of
    the support, with trust-region Newton steps using the exact Hessian (``trust-exact``) or,
    above ``DENSE_HESSIAN_LIMIT`` parameters, exact Hessian-vector products
    (``trust-krylov``). The objective is the density *of the requested space*: the
    log-likelihood is invariant to reparameterization, but the posterior mode is not — in
    the unconstrained space it includes :math:`\log|\det J|` of the transforms, in the
    constrained space it does not. If a start does not converge — or stops at a saddle, where
    the gradient vanishes but the density curves upwards along some direction (checked with
    the dense Hessian) — up to ``RESTARTS`` jittered starts follow.

    Returns
    -------
    Mode
        ``converged`` is ``False`` (and a warning is issued) when no start reached a gradient
        norm below ``GRADIENT_TOLERANCE`` relative to the scale of the log-density — as happens
        when the density grows without bound (a centred hierarchical model with τ → 0);
        ``message`` then names the coordinates that ran off to infinity.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pmfisher
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> mode = pmfisher.find_mode(model=model, terms="likelihood")
    >>> round(float(mode.point["lam"]), 6)
    3.0
    """
    check_option("terms", terms, Terms)
    check_option("space", space, Space)
    model = resolve_model(model)
    objective = model_graph(
        model, space="unconstrained", terms=terms, jacobian=space == "unconstrained"
    )
    target = model_graph(model, space=space, terms=terms)
    rng = np.random.default_rng(random_seed)
    x0 = objective.flatten(start) if start is not None else _initial_point(objective)
    if start is not None:
        # An optimizer started where the density is -inf or undefined never moves.
        objective.check_in_support(x0)

    best, iterations = None, 0
    for attempt in range(RESTARTS + 1):
        begin = x0 if attempt == 0 else x0 + rng.normal(scale=1.0, size=x0.size)
        search = _Search.run(objective, begin)
        iterations += search.result.nit
        if best is None or search.better_than(best):
            best = search
        if best.status == "mode":
            break

    x_unconstrained = best.result.x
    point = objective.constrained_point(x_unconstrained)
    x = target.flatten(point) if target is not objective else x_unconstrained
    logp, grad = target.logp_and_grad_fn(x)
    grad_norm = float(np.linalg.norm(grad))
    converged = best.status != "failed" and bool(np.isfinite(logp))
    message = ""
    if not converged:
        message = _diagnose(objective, x0, best.result, terms)
        warnings.warn(
            f"find_mode did not converge for terms={terms!r}: the gradient norm is "
            f"{grad_norm:.3g} after {iterations} iterations from {attempt + 1} start(s). "
            + message,
            stacklevel=2,
        )
    return Mode(
        point=point,
        x=np.asarray(x),
        logp=float(logp),
        grad_norm=grad_norm,
        converged=converged,
        n_iter=iterations,
        labels=target.labels,
        terms=terms,
        space=space,
        message=message,
    )


def require_converged(mode: Mode) -> Mode:
    """The mode itself, or a :class:`PMFisherError` saying that none was found."""
    if not mode.converged:
        reason = mode.message or "The density may be unbounded or very flat."
        raise PMFisherError(
            f"no mode of the {mode.terms} was found (gradient norm {mode.grad_norm:.3g} after "
            f"{mode.n_iter} iterations). {reason} Pass a point explicitly, or reparameterize "
            "the model."
        )
    return mode


def _initial_point(graph) -> np.ndarray:
    initial = graph.model.initial_point()
    names = [graph.model.rvs_to_values[rv].name for rv in graph.free_rvs]
    return np.concatenate([np.ravel(initial[name]) for name in names]).astype("float64")


@dataclass(frozen=True)
class _Search:
    """One optimizer run and what it reached: a ``"mode"``, a ``"saddle"`` (the gradient
    vanishes but the density curves upwards along some direction) or ``"failed"``."""

    result: optimize.OptimizeResult
    status: str

    @classmethod
    def run(cls, graph, x0: np.ndarray) -> _Search:
        result = _newton_search(graph, x0)
        if not _converged(result):
            return cls(result, "failed")
        if graph.size <= DENSE_HESSIAN_LIMIT and _is_saddle(graph, result.x):
            return cls(result, "saddle")
        return cls(result, "mode")

    def better_than(self, other: _Search) -> bool:
        rank = {"mode": 2, "saddle": 1, "failed": 0}
        if self.status != other.status:
            return rank[self.status] > rank[other.status]
        return self.result.fun < other.result.fun


class _NonFiniteHessian(ArithmeticError):
    """The Hessian overflowed: the density is running off to infinity."""


def _newton_search(graph, x0: np.ndarray):
    last = {"x": x0, "fun": np.inf, "jac": np.full_like(x0, np.inf), "nit": 0}
    # Built before the search, so that a model without the derivatives is an error that
    # names it, not a search that fails (the optimizer's ValueErrors are caught below).
    logp_and_grad = graph.logp_and_grad_fn
    dense = graph.size <= DENSE_HESSIAN_LIMIT
    curvature = graph.hessian_fn if dense else graph.hessian_vector_fn

    def negative_logp_and_grad(x):
        logp, grad = logp_and_grad(x)
        if not np.isfinite(logp):
            return np.inf, np.zeros_like(x)
        last.update(x=x, fun=-logp, jac=-grad, nit=last["nit"] + 1)
        return -logp, -grad

    def negative_hessian(x):
        hessian = -curvature(x)
        if not np.all(np.isfinite(hessian)):
            raise _NonFiniteHessian
        return hessian

    options = {"gtol": 1e-3 * GRADIENT_TOLERANCE, "maxiter": 500}
    try:
        with np.errstate(all="ignore"):
            if dense:
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
                hessp=lambda x, v: -curvature(x, v),
                method="trust-krylov",
                options=options,
            )
    except (_NonFiniteHessian, np.linalg.LinAlgError, UnboundLocalError, ValueError):
        # scipy's trust-region subproblem solvers break on overflowing curvature (one raises
        # UnboundLocalError), which happens as the density runs off to infinity: this search
        # failed where it last stood, and the caller diagnoses why.
        return optimize.OptimizeResult(success=False, **last)


def _converged(result) -> bool:
    if not np.isfinite(result.fun):
        return False
    return float(np.linalg.norm(result.jac)) <= GRADIENT_TOLERANCE * max(1.0, abs(result.fun))


def _is_saddle(graph, x: np.ndarray) -> bool:
    """Whether the log-density curves upwards along some direction at the stationary ``x``
    (flat directions, as in a non-identified model, do not count)."""
    eigenvalues = np.linalg.eigvalsh(graph.hessian_fn(x))
    scale = max(float(np.abs(eigenvalues).max()), 1.0)
    return bool(eigenvalues[-1] > np.sqrt(np.finfo(float).eps) * scale)


def _diagnose(graph, x0: np.ndarray, result, terms: str) -> str:
    """Why the search failed, in words: the coordinates that ran off to infinity while the
    log-density kept increasing (no mode exists), or a stall."""
    x = np.asarray(result.x)
    runaway = [
        f"{label} → {value:.3g}"
        for label, value in zip(graph.labels, x, strict=True)
        if not np.isfinite(value) or abs(value) > RUNAWAY
    ]
    start_logp = float(graph.logp_fn(x0))
    if runaway and np.isfinite(result.fun) and -result.fun > start_logp:
        return (
            f"The log-{terms} increases without bound (from {start_logp:.4g} at the start to "
            f"{-result.fun:.4g}) as {', '.join(runaway)} (unconstrained coordinates): no mode "
            "exists. This is typical of a centred hierarchical model whose scale goes to "
            "zero, which a non-centred parameterization avoids."
        )
    return (
        "The optimizer stalled before the gradient vanished: the density may be very flat "
        "or badly scaled, or the start far from the mode. Pass a start closer to the mode."
    )
