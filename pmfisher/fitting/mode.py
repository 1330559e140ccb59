"""Finding the mode of a model's likelihood (MLE) or posterior (MAP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
from scipy import optimize
from scipy.sparse import linalg as sparse_linalg

from pmfisher._core.linalg.definiteness import flat_directions
from pmfisher._core.linalg.sparse_cholesky import sparse_positive_definite
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.options import Space, Structure, Terms, check_option
from pmfisher._core.progress import progress_switch
from pmfisher.errors import ConvergenceError, NotPositiveDefiniteError, PointError, warn
from pmfisher.fitting.boundary import RUNAWAY, edge_of_support, unbounded_ray
from pmfisher.fitting.newton_search import (
    DENSE_HESSIAN_LIMIT,
    converged,
    newton_search,
)
from pmfisher.fitting.target_density import hessian_route, negative_hessian, target_density

__all__ = ["Mode", "find_mode"]

RESTARTS = 4


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
        Whether an interior mode was found: ``grad_norm`` fell below the tolerance in
        ``space`` and no coordinate ran off to the edge of the support.
    n_iter : int
        Optimizer iterations, summed over starts.
    labels : tuple[str, ...]
        One label per entry of ``x``.
    terms, space : str
        Which density was maximized, in which coordinates.
    boundary : tuple[str, ...]
        The free variables at the edge of their support where the search stopped on a
        boundary (``converged`` is then ``False``), else ``()``.
    latent : tuple[str, ...]
        The free variables integrated out of it (``()``: none). With ``terms`` and
        ``space`` this names the density (:mod:`pmfisher._core.model.target`): a function given
        the mode of another density refuses it rather than re-read it as a plain point.
    message : str
        Why no mode was found: which coordinates ran off to infinity while the density kept
        growing, that the maximum lies on the boundary of the support, or that the optimizer
        stalled. For a converged mode, ``""`` or the flat directions along which the mode is
        not unique (the eigenvectors of the Hessian's numerically zero eigenvalues).
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
    latent: tuple[str, ...] = ()
    boundary: tuple[str, ...] = ()


@progress_switch
def find_mode(
    *,
    model: pm.Model | None = None,
    terms: Terms = "posterior",
    space: Space = "unconstrained",
    start: dict | None = None,
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    random_seed=None,
    progressbar: bool = True,
) -> Mode:
    r"""Maximize the model's log-likelihood (``terms="likelihood"``) or log-posterior.

    The search always runs in the unconstrained coordinates, so that it never steps out of
    the support, with trust-region Newton steps using the exact Hessian (``trust-exact``) or,
    above ``DENSE_HESSIAN_LIMIT`` parameters, exact Hessian-vector products
    (``trust-krylov``). The objective is the density *of the requested space*: the
    log-likelihood is invariant to reparameterization, but the posterior mode is not — in
    the unconstrained space it includes :math:`\log|\det J|` of the transforms, in the
    constrained space it does not. With ``structure="sparse"`` each iteration forms the exact
    Hessian as a sparse matrix (one Hessian-vector product per colour of its pattern) and the
    ``trust-krylov`` subproblem runs on products with it, which cost a sparse matrix-vector
    product instead of a pass through the model's graph. ``"auto"`` takes that route when
    the Hessian's pattern is sparse (:mod:`pmfisher._core.curvature.structure`); the dense route
    uses the dense Hessian up to ``DENSE_HESSIAN_LIMIT`` parameters and Hessian-vector products
    (no matrix at all) above. If a start does not converge — or stops at a saddle, where the
    gradient vanishes but the density curves upwards along some direction (checked with the
    dense or sparse Hessian) — up to ``RESTARTS`` jittered starts follow; the variables a
    search ran off towards the edge of the support with (a variance component's factor driven
    to 0 from a start near it) are restarted from the model's initial point.

    With ``latent`` (names of free variables), those are integrated out by a Laplace
    approximation at their conditional mode (:mod:`pmfisher.fitting.laplace_marginal`) and
    the search is over the remaining variables :math:`\varphi`, maximizing the Laplace
    marginal :math:`L(\varphi)` by BFGS on its exact gradient, polished by Newton steps on
    its exact Hessian (which costs far more than a gradient): the marginal likelihood
    :math:`p(y \mid \varphi)` for
    ``terms="likelihood"`` (the latent variables' own density is part of it), times the
    priors of :math:`\varphi` for ``terms="posterior"``. The result's ``x``, ``labels``,
    ``logp`` and ``grad_norm`` are about :math:`\varphi` and :math:`L`; its ``point`` holds
    every free variable, the latent ones at their conditional mode.

    Parameters
    ----------
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    terms : {"posterior", "likelihood"}
        The MAP of the posterior, or the MLE.
    space : {"unconstrained", "constrained"}
        The space whose density is maximized (it matters for the posterior only, through
        the log-Jacobian).
    start : dict, optional
        Where the first search starts (constrained values by name), instead of the model's
        initial point. With ``latent``, the values of the other variables only.
    latent : list of str, optional
        Free variables integrated out by a Laplace approximation at their conditional mode.
    structure : {"auto", "dense", "sparse"}
        The route of the Hessian (with ``latent``: of the latent Hessian).
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Seeds the jittered restarts.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    Mode
        ``converged`` is ``False`` (and a warning is issued) when no start reached a gradient
        norm below ``GRADIENT_TOLERANCE`` relative to the scale of the log-density — as happens
        when the density grows without bound (a centred hierarchical model with τ → 0) —
        or when the maximum lies on the boundary of the support (a Uniform prior's edge, where
        the gradient does not vanish); ``message`` then names the coordinates that ran off to
        infinity. A converged mode with flat directions (a non-identified model) is warned
        about, and ``message`` names the parameters along them.

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
    check_option("structure", structure, Structure)
    # The search runs in the unconstrained coordinates; ``target`` is the density the result
    # is about (the same one in ``space``). A Laplace marginal offers the functions the
    # search needs, like a graph.
    objective = target_density(
        model,
        terms=terms,
        space="unconstrained",
        latent=latent,
        structure=structure,
        jacobian=space == "unconstrained",
    )
    target = target_density(model, terms=terms, space=space, latent=latent, structure=structure)
    # The dense route forms no d × d Hessian above DENSE_HESSIAN_LIMIT (it uses products), so
    # "dense" needs no memory estimate. Measured on the hierarchical model (same iterations on
    # both routes): at J = 5,000 products 0.82 s, sparse Hessians 1.22 s; at J = 50,000
    # products 158 s, sparse Hessians 71 s. "auto" therefore follows the Hessian's route.
    chosen = "dense" if structure == "dense" else hessian_route(objective, structure)
    rng = np.random.default_rng(random_seed)
    x0 = _start(model, objective, start) if start is not None else _initial_point(objective)

    best, iterations, edge = None, 0, set()
    for attempt in range(RESTARTS + 1):
        begin = x0
        if attempt:
            base = _away_from_the_edge(objective, x0, edge)
            begin = base + rng.normal(scale=1.0, size=x0.size)
        search = _Search.run(objective, begin, chosen, quasi_newton=bool(objective.latent))
        iterations += search.result.nit
        reached = _Reached.of(search, objective, target)
        edge.update(reached.edge)
        if best is None or reached.better_than(best):
            best = reached
        # A search that stopped on the boundary may have missed an interior maximum (a
        # variance component's factor driven to 0 from a poor start): the restarts look.
        if best.interior and best.search.status == "mode":
            break

    point, x, logp, grad = best.point, best.x, best.logp, best.grad
    grad_norm = float(np.linalg.norm(grad))
    converged, message = best.interior, best.boundary
    if best.search.status == "failed" or not np.isfinite(logp):
        message = _diagnose(objective, x0, best.search.result, terms)
    if not converged:
        warn(
            f"find_mode did not converge for terms={terms!r}: the gradient norm is "
            f"{grad_norm:.3g} after {iterations} iterations from {attempt + 1} start(s). "
            + message,
        )
    elif target.size <= DENSE_HESSIAN_LIMIT:
        # By the route the search took, or the one the observed information that follows
        # takes for the target: a first call then compiles one Hessian, not two.
        same_route = bool(target.latent) or target is objective
        route = chosen if same_route else hessian_route(target, structure)
        information = negative_hessian(target, x, route)
        if route == "sparse":
            information = information.toarray()  # a small mode: dense for the eigenvalues
        flat = flat_directions(information, target.labels)
        if flat:
            message = (
                f"The mode is not unique: the log-{terms} is flat ({target.space} space), "
                f"{flat}. These combinations are not identified by the {terms}."
            )
            warn(f"find_mode: {message}")
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
        latent=tuple(target.latent),
        boundary=best.edge,
    )


def require_converged(
    mode: Mode, *, advice: str = "Pass a point explicitly, or reparameterize the model."
) -> Mode:
    """The mode itself, or a :class:`PMFisherError` saying that none was found, with
    ``advice`` that the caller can follow."""
    if not mode.converged:
        reason = mode.message or "The density may be unbounded or very flat."
        raise ConvergenceError(
            f"no mode of the {mode.terms} was found (gradient norm {mode.grad_norm:.3g} after "
            f"{mode.n_iter} iterations). {reason} {advice}"
        )
    return mode


def _start(model, objective, start) -> np.ndarray:
    """The flat start in the search space; a ``PointError`` naming the variable when it lies
    outside the support (which the priors define, whatever ``terms``). With latent
    variables, the start names the others only: theirs are the inner problem's to find."""
    if objective.latent:
        start = objective.completed(start)
    support = model_graph(model, space="constrained", terms="posterior")
    support.check_in_support(support.flatten(start))
    x0 = objective.flatten(start)
    if not np.all(np.isfinite(x0)):
        bad = [label for label, x in zip(objective.labels, x0, strict=True) if not np.isfinite(x)]
        raise PointError(f"the start maps to non-finite unconstrained values at {', '.join(bad)}.")
    return x0


@dataclass(frozen=True)
class _Reached:
    """Where one search ended, read on the target: the point, the target's log-density and
    gradient there, and why it is no interior mode (``boundary``, or ``""``)."""

    search: _Search
    point: dict
    x: np.ndarray
    logp: float
    grad: np.ndarray
    boundary: str
    edge: tuple[str, ...]

    @classmethod
    def of(cls, search: _Search, objective, target) -> _Reached:
        x_unconstrained = search.result.x
        point = objective.constrained_point(x_unconstrained)
        x = target.flatten(point) if target is not objective else x_unconstrained
        logp, grad = target.logp_and_grad_fn(x)
        logp, grad = float(logp), np.asarray(grad)
        boundary, edge = "", ()
        if search.status != "failed" and np.isfinite(logp):
            boundary, edge = edge_of_support(objective, x_unconstrained, target, point, grad, logp)
            if not boundary:
                boundary, edge = unbounded_ray(objective, search.start, x_unconstrained, target)
        return cls(search, point, np.asarray(x), logp, grad, boundary, edge)

    @property
    def interior(self) -> bool:
        # A saddle that no restart left counts, as it always did: its Hessian says so later.
        return self.search.status != "failed" and np.isfinite(self.logp) and not self.boundary

    def better_than(self, other: _Reached) -> bool:
        if self.interior != other.interior:
            return self.interior
        return self.search.better_than(other.search)


def _away_from_the_edge(objective, x0: np.ndarray, edge: set[str]) -> np.ndarray:
    """Where restarts are jittered around: the first start, with the variables a search ran
    off towards the edge of the support taken back to the model's initial point. A start near
    the edge (a variance component's factor close to 0) leads every search jittered around it
    back there, while the interior maximum lies elsewhere."""
    if not edge:
        return x0
    base, initial = x0.copy(), _initial_point(objective)
    for block in objective.blocks:
        if block.rv_name in edge:
            base[block.start : block.stop] = initial[block.start : block.stop]
    return base


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
    start: np.ndarray

    @classmethod
    def run(cls, graph, x0: np.ndarray, chosen: str, *, quasi_newton: bool) -> _Search:
        result = newton_search(graph, x0, chosen, quasi_newton=quasi_newton)
        if not converged(result):
            return cls(result, "failed", x0)
        if chosen == "sparse" and _is_saddle_sparse(graph, result.x):
            return cls(result, "saddle", x0)
        if chosen == "dense" and graph.size <= DENSE_HESSIAN_LIMIT and _is_saddle(graph, result.x):
            return cls(result, "saddle", x0)
        return cls(result, "mode", x0)

    def better_than(self, other: _Search) -> bool:
        rank = {"mode": 2, "saddle": 1, "failed": 0}
        if self.status != other.status:
            return rank[self.status] > rank[other.status]
        return self.result.fun < other.result.fun


def _is_saddle(graph, x: np.ndarray) -> bool:
    """Whether the log-density curves upwards along some direction at the stationary ``x``
    (flat directions, as in a non-identified model, do not count)."""
    eigenvalues = np.linalg.eigvalsh(graph.hessian_fn(x))
    scale = max(float(np.abs(eigenvalues).max()), 1.0)
    return bool(eigenvalues[-1] > np.sqrt(np.finfo(float).eps) * scale)


def _is_saddle_sparse(graph, x: np.ndarray) -> bool:
    """As :func:`_is_saddle`, with the sparse Hessian: a successful CHOLMOD factorization of
    its negative proves a maximum; only if it fails are the smallest eigenvalues computed
    (Lanczos), against a scale bounded by the largest absolute row sum."""
    negative = negative_hessian(graph, x, "sparse")
    try:
        sparse_positive_definite(negative, graph.labels, what="negative Hessian")
    except NotPositiveDefiniteError as error:
        scale = max(float(sparse_linalg.norm(negative, np.inf)), 1.0)
        return bool(np.min(error.eigenvalues) < -np.sqrt(np.finfo(float).eps) * scale)
    return False


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
