r"""The Laplace marginal: latent variables integrated out at their conditional mode.

For a split of the free variables into latent :math:`u` (unconstrained coordinates) and the
rest :math:`\varphi` (:mod:`pmfisher.fitting.latent.latent_split`), with joint log-density
:math:`f(u, \varphi)`,

.. math::

    L(\varphi) = f(\hat u_\varphi, \varphi) - \tfrac12 \log\det H(\varphi)
    + \tfrac{n_u}{2}\log 2\pi,
    \qquad \hat u_\varphi = \arg\max_u f(u, \varphi),\quad
    H(\varphi) = -\nabla^2_{uu} f(\hat u_\varphi, \varphi),

the Laplace approximation of :math:`\log\int e^{f(u,\varphi)}\,du` (TMB's ``random=``, INLA's
and Stan's embedded Laplace). It is exact when :math:`u \mid \varphi` is Gaussian.

**Inner problem.** :math:`\hat u_\varphi` is found by Newton's method warm-started at the last
solution, with a backtracking line search and the Hessian shifted towards the identity where
it is not negative definite; once the Newton decrement :math:`g^\top H^{-1} g` (twice the
predicted gain) is negligible against :math:`|f|`, full steps follow until the step itself is
negligible, and one more (:math:`\hat u` exact to rounding, as the log-determinant needs). No
mode raises a :class:`~pmfisher.errors.PMFisherError` naming :math:`\varphi`.

**Exact derivatives.** :math:`L` is written as a PyTensor graph of :math:`\varphi` in which
:math:`\hat u_\varphi` is the output of an operation whose gradient is the implicit function
theorem's, :math:`\partial\hat u/\partial\varphi = H^{-1} \nabla^2_{u\varphi} f` — itself a
graph of :math:`(\hat u, \varphi)`, so it can be differentiated again. Reverse-mode autodiff
of that graph gives

.. math::

    \nabla L = \nabla_\varphi f + \tfrac12\,\partial_\varphi \operatorname{tr}(S\,
    \nabla^2_{uu} f) + (\nabla^2_{\varphi u} f)\, H^{-1}\,
    \tfrac12\,\partial_u \operatorname{tr}(S\,\nabla^2_{uu} f), \qquad S = H^{-1}\ \text{held},

(the adjoint of the inner optimum, as TMB and Stan compute it: third derivatives of
:math:`f` contracted with :math:`H^{-1}` in one reverse pass over the Hessian graph). Before
compiling, the operation's output is replaced by an input, so the compiled gradient
:math:`G(\hat u, \varphi)` takes both and the Newton iteration stays in NumPy.

The exact Hessian (the second-order adjoint, with fourth derivatives of :math:`f`) is the
total derivative of that gradient, :math:`\nabla^2 L = \partial_\varphi G + \partial_u G\,
\partial\hat u/\partial\varphi`: its row :math:`k` is one reverse pass over :math:`G` with
cotangent :math:`e_k`, so the compiled graph is about twice the gradient's, called
:math:`n_\varphi` times — instead of a graph :math:`n_\varphi` times larger, whose rewriting
took minutes. Everything is exact; no finite differences.

**Structure.** :math:`H` is dense (an ``n_u × n_u`` matrix, Newton steps by LAPACK) or sparse
(its pattern read from the graph, Newton steps, :math:`\log\det H` and the derivatives of
:math:`L` by CHOLMOD and the selected inverse: :mod:`pmfisher.fitting.latent.sparse_latent`), chosen
by the package's ``structure`` rule (:mod:`pmfisher._core.curvature.structure`) applied to the joint
density in :math:`(u, \varphi)`; a sparse :math:`H` that is diagonal is handled elementwise
(:mod:`pmfisher.fitting.latent.diagonal_latent`). All give the same :math:`L`, gradient and Hessian
to rounding. A route that would not fit in memory raises an
:class:`~pmfisher.errors.InsufficientMemoryError` saying what it would need.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymc as pm
from scipy import sparse

from pmfisher._core.compiled.compilation import compile_derived, few_calls_backend
from pmfisher._core.compiled.graph_digest import data_digest
from pmfisher._core.curvature import derivatives, memory
from pmfisher._core.curvature.structure import hessian_structure
from pmfisher._core.linalg.definiteness import PositiveDefinite, cholesky_or_none, shifted_cholesky
from pmfisher._core.linalg.sparse_cholesky import SparsePositiveDefinite
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.model.target import point_values
from pmfisher._core.options import Space, Structure, Terms
from pmfisher.errors import ConvergenceError, PointError
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent, DiagonalPositiveDefinite
from pmfisher.fitting.latent.implicit_mode import marginal_graphs
from pmfisher.fitting.latent.latent_split import (
    LatentSplit,
    latent_split,
    total_derivative_along_the_mode,
)
from pmfisher.fitting.latent.sparse_latent import (
    JointGraph,
    SparseLatent,
    latent_hessian_is_diagonal,
)

__all__ = ["ConditionalMode", "InnerModeError", "LaplaceMarginal", "laplace_marginal"]

# Newton iterations allowed for the inner problem.
INNER_MAX_ITER = 200
# Below this Newton decrement g'H⁻¹g, relative to max(1, |f|), full Newton steps are taken;
# converged when such a step is below INNER_STEP_TOLERANCE times max(1, |u|) (a density that
# flattens out towards infinity has a vanishing decrement but not a vanishing step).
INNER_DECREMENT_TOLERANCE = 1e-8
INNER_STEP_TOLERANCE = 1e-8
# A converged step below this times max(1, |u|) is rounding (the step after an exact Newton
# step, as on a Gaussian conditional): the point is û already, and the final step, one more
# evaluation, is skipped. A third of the evaluations of a Gaussian conditional's solve.
INNER_ROUNDING_STEP = 1e-12
# An unconstrained latent coordinate beyond this has run off to infinity.
RUNAWAY = 1e8
# Dense n_u × n_u matrices the dense route holds at once (the Hessian, its factor, copies).
DENSE_LATENT_COPIES = 4


class InnerModeError(ConvergenceError):
    """The inner problem :math:`\\max_u f(u, \\varphi)` has no (reachable) mode."""


@dataclass(frozen=True)
class ConditionalMode:
    """The conditional mode :math:`\\hat u_\\varphi` and the curvature there.

    ``precision`` is :math:`H = -\\nabla^2_{uu} f` with its Cholesky factor (dense or
    sparse: ``matrix``, ``log_determinant``, ``solve``, ``deviations``); ``logp`` is
    :math:`f(\\hat u, \\varphi)`; ``n_iter`` counts Newton steps. ``gradient`` is
    :math:`\\nabla L(\\varphi)` where it was asked for and the route computes it with the last
    Newton step (the diagonal one), else ``None``.
    """

    u: np.ndarray
    logp: float
    precision: PositiveDefinite | SparsePositiveDefinite | DiagonalPositiveDefinite
    n_iter: int
    gradient: np.ndarray | None = None


def laplace_marginal(
    model: pm.Model | None,
    latent: Sequence[str] | str,
    *,
    space: Space,
    terms: Terms,
    jacobian: bool | None = None,
    structure: Structure = "auto",
) -> LaplaceMarginal:
    """The cached :class:`LaplaceMarginal` of ``model`` with ``latent`` integrated out, as a
    function of the remaining variables in ``space`` (``jacobian`` as in ``model_graph``),
    with a dense or sparse latent Hessian as ``structure`` decides for the joint density."""
    graph = model_graph(resolve_model(model), space=space, terms=terms, jacobian=jacobian)
    split = latent_split(graph, latent)
    route = hessian_structure(split.companion(JointGraph), structure)
    return split.companion(_sparse_marginal if route == "sparse" else _dense_marginal)


def _dense_marginal(split: LatentSplit) -> LaplaceMarginal:
    return LaplaceMarginal(split, structure="dense")


def _sparse_marginal(split: LatentSplit) -> LaplaceMarginal:
    return LaplaceMarginal(split, structure="sparse")


class LaplaceMarginal:
    """:math:`L(\\varphi)` of one split, with its exact gradient and Hessian.

    Besides the methods documented here it offers the functions ``find_mode`` searches
    with (``logp_fn``, ``logp_and_grad_fn``, ``hessian_fn``, ``flatten``,
    ``constrained_point``, ``labels``, ``size``, ``free_rvs``, ``model``), so that the
    marginal mode is found by the same trust-region search, restarts and diagnosis as the
    mode of any density; those return :math:`-\\infty` (or a NaN Hessian) where the inner
    problem fails, the methods ``value``, ``value_and_gradient`` and ``hessian`` raise.
    """

    def __init__(self, split: LatentSplit, *, structure: Literal["dense", "sparse"]):
        if structure == "dense":
            memory.require_fits(
                8 * DENSE_LATENT_COPIES * split.n_u**2,
                f"the dense conditional Hessian of the {split.n_u} latent entries of "
                f"{', '.join(split.latent)}",
                instead="pass structure='sparse' (or 'auto') if it is sparse, or integrate "
                "fewer variables out.",
            )
        self.structure = structure
        # The sparse route's pieces, or the diagonal ones when H is diagonal; None if dense.
        self.structured = None
        if structure == "sparse":
            diagonal = latent_hessian_is_diagonal(split)
            self.structured = split.companion(DiagonalLatent if diagonal else SparseLatent)
        # A Gaussian conditional with a diagonal H: û in one compiled call (gaussian_mode).
        self.one_step_gaussian = (
            isinstance(self.structured, DiagonalLatent) and split.conditional_is_gaussian
        )
        self.split = split
        self.model = split.graph.model
        # The target density's name (pmfisher._core.model.target): p(y | φ) or p(y, φ) in a space.
        self.terms, self.space, self.latent = split.graph.terms, split.graph.space, split.latent
        self.labels = split.phi_labels
        self.size = split.n_phi
        self.free_rvs = [rv for rv in split.graph.free_rvs if rv.name not in split.latent]
        self.blocks = split.phi_blocks
        self._last_u = None
        self._last_hessian: tuple[np.ndarray, str, np.ndarray] | None = None

    # -- compiled functions ---------------------------------------------------------------

    @functools.cached_property
    def _inner_fn(self):
        """``(u, phi) → f, ∇_u f, ∇²_uu f``."""
        split = self.split

        def build():
            gradient = derivatives.gradient(split.logp, split.u)
            return [split.logp, gradient, derivatives.hessian(split.logp, split.u)]

        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            build,
            recipe="inner Newton: f, ∇_u f, ∇²_uu f",
            backend=few_calls_backend(split.graph.size),
        )

    @functools.cached_property
    def _value_and_gradient_fn(self):
        split = self.split
        u_hat = split.u.type("u_hat")
        return compile_derived(
            [u_hat, split.phi],
            [split.logp],
            lambda: marginal_graphs(split, u_hat),
            recipe="Laplace marginal and gradient",
            replaced=[split.u],
            backend=few_calls_backend(split.graph.size),
        )

    @functools.cached_property
    def _gradient_pullback_fn(self):
        """``(û, φ, c) → ∂(c·G)/∂û, ∂(c·G)/∂φ`` of the gradient graph ``G(û, φ)``: one reverse
        pass over it, a row of the marginal's Hessian per cotangent ``c = e_k``. Called a few
        times (a Hessian at the mode, or two), so without C on a small model: its gcc
        compilation (third derivatives) took most of a cold nested Laplace."""
        split = self.split
        u_hat = split.u.type("u_hat")
        cotangent = split.phi.type("cotangent")

        def build():
            _, gradient = marginal_graphs(split, u_hat)
            contracted = (cotangent * gradient).sum()
            return derivatives.gradient(contracted, [u_hat, split.phi])

        return compile_derived(
            [u_hat, split.phi, cotangent],
            [split.logp],
            build,
            recipe="Laplace marginal: pullback of the gradient",
            replaced=[split.u],
            backend=few_calls_backend(split.graph.size),
        )

    # -- the inner problem ------------------------------------------------------------------

    def conditional_mode(
        self, phi: np.ndarray, *, start: np.ndarray | None = None, with_gradient: bool = False
    ) -> ConditionalMode:
        """:math:`\\hat u_\\varphi` by damped Newton, warm-started at ``start`` or the last
        solution; an :class:`InnerModeError` if there is none. ``with_gradient`` asks for
        :math:`\\nabla L` along (computed with the last step where that is cheaper: a
        Gaussian conditional's one call, the diagonal route's final full step)."""
        phi = np.asarray(phi, dtype="float64")
        u = np.array(
            start if start is not None else self._last_u if self._last_u is not None else 0.0,
            dtype="float64",
        ) * np.ones(self.split.n_u)
        if self.one_step_gaussian:
            found = self._gaussian_mode(u, phi, with_gradient)
            if found is not None:
                return found
        with np.errstate(all="ignore"):
            logp, grad, precision = self._curvature(u, phi)
            if not np.isfinite(logp) and start is None and self._last_u is not None:
                u = np.zeros(self.split.n_u)
                logp, grad, precision = self._curvature(u, phi)
            if not np.isfinite(logp):
                raise self._failure(phi, "the joint log-density is not finite at the start")
            for iteration in range(INNER_MAX_ITER + 1):
                factor = self._factor(precision)
                if factor is not None:
                    step = factor.solve(grad)
                    decrement = float(grad @ step)
                    if decrement <= INNER_DECREMENT_TOLERANCE * max(1.0, abs(float(logp))):
                        # The quadratic regime, where f no longer resolves the gain: full
                        # Newton steps until the step itself is negligible, then one more so
                        # that û is exact to rounding — the log-determinant in L is not
                        # stationary at û, so an error in û enters L at first order.
                        largest, scale = np.abs(step).max(), max(1.0, np.abs(u).max())
                        if largest <= INNER_ROUNDING_STEP * scale:
                            self._last_u = u
                            return ConditionalMode(u, float(logp), factor, iteration)
                        if largest <= INNER_STEP_TOLERANCE * scale:
                            return self._polished(u + step, phi, iteration + 1, with_gradient)
                        u = u + step
                        logp, grad, precision = self._curvature(u, phi)
                        if not (np.isfinite(logp) and np.abs(u).max() <= RUNAWAY):
                            break
                        continue
                else:
                    shifted = self._shifted_factor(precision)
                    if shifted is None:  # overflowing curvature: no shift makes it definite
                        break
                    step = shifted.solve(grad)
                    decrement = float(grad @ step)
                if iteration == INNER_MAX_ITER:
                    break
                moved = False
                for halving in range(40):
                    t = 0.5**halving
                    candidate = u + t * step
                    new = self._curvature(candidate, phi)
                    if np.isfinite(new[0]) and new[0] >= logp + 1e-4 * t * decrement:
                        moved = new[0] > logp
                        u, (logp, grad, precision) = candidate, new
                        break
                if not moved or np.abs(u).max() > RUNAWAY:
                    break
        if not _finite(precision):
            reason = "the conditional Hessian is not finite there"
        elif self._factor(precision) is None:
            reason = "the conditional Hessian is not negative definite there"
        else:
            reason = f"Newton stalled with decrement {decrement:.3g} after {iteration} steps"
        raise self._failure(phi, reason + f" (largest |u| = {np.abs(u).max():.3g})")

    def _gaussian_mode(self, u, phi, with_gradient: bool) -> ConditionalMode | None:
        """û of a Gaussian conditional in one call, or ``None`` where f or h is not usable
        there (the Newton iteration then explains the failure)."""
        with np.errstate(all="ignore"):
            mode, logp, diagonal, gradient = self.structured.gaussian_mode(u, phi)
        factor = self.structured.factor(diagonal)
        if factor is None or not (np.isfinite(logp) and np.all(np.isfinite(mode))):
            return None
        self._last_u = mode
        return ConditionalMode(mode, logp, factor, 1, gradient if with_gradient else None)

    def _polished(self, u, phi, n_iter: int, with_gradient: bool) -> ConditionalMode:
        gradient = None
        if with_gradient and isinstance(self.structured, DiagonalLatent):
            logp, _, precision, gradient = self.structured.curvature_and_gradient(u, phi)
        else:
            logp, _, precision = self._curvature(u, phi)
        factor = self._factor(precision)
        if factor is None or not np.isfinite(logp):
            raise self._failure(phi, "the conditional Hessian is not negative definite at û")
        self._last_u = u
        return ConditionalMode(u, float(logp), factor, n_iter, gradient)

    def _curvature(self, u: np.ndarray, phi: np.ndarray):
        """``f``, :math:`\\nabla_u f` and :math:`H` (dense or sparse) at ``(u, φ)``."""
        if self.structured is not None:
            return self.structured.curvature(u, phi)
        logp, grad, hess = self._inner_fn(u, phi)
        return logp, grad, -np.asarray(hess)

    def _factor(self, precision):
        """The Cholesky factor of :math:`H`, or ``None`` where it is not positive definite."""
        if self.structured is not None:
            return self.structured.factor(precision)
        cholesky = cholesky_or_none(precision)
        return PositiveDefinite(precision, cholesky) if cholesky is not None else None

    def _shifted_factor(self, precision):
        """The factor of a shifted :math:`H` (an ascent direction), or ``None`` where
        :math:`H` is not finite."""
        if not _finite(precision):
            return None
        if self.structured is not None:
            return self.structured.shifted_factor(precision)
        return PositiveDefinite(precision, shifted_cholesky(precision))

    def _failure(self, phi, reason: str) -> InnerModeError:
        shown = ", ".join(
            f"{label}={value:.4g}" for label, value in zip(self.labels, phi, strict=True)
        )
        return InnerModeError(
            f"no conditional mode of the latent variables {', '.join(self.split.latent)} was "
            f"found at {shown} ({self.split.graph.space} space): {reason}. The joint density "
            "may be unbounded in them, or not concave."
        )

    # -- the marginal -----------------------------------------------------------------------

    def value_and_gradient(self, phi: np.ndarray) -> tuple[float, np.ndarray]:
        """:math:`L(\\varphi)` and its exact gradient."""
        inner = self.conditional_mode(phi, with_gradient=True)
        if inner.gradient is not None:
            return self._value(inner), inner.gradient
        if self.structured is not None:
            return self._value(inner), self.structured.gradient(inner.u, phi, inner.precision)
        value, gradient = self._value_and_gradient_fn(inner.u, np.asarray(phi, dtype="float64"))
        return float(value), np.asarray(gradient)

    def value(self, phi: np.ndarray, *, start: np.ndarray | None = None) -> float:
        """:math:`L(\\varphi)` from the inner solution's factor; its solve starts at ``start``."""
        return self._value(self.conditional_mode(phi, start=start))

    def _value(self, inner: ConditionalMode) -> float:
        return float(
            inner.logp
            - 0.5 * inner.precision.log_determinant
            + 0.5 * self.split.n_u * np.log(2 * np.pi)
        )

    def hessian(self, phi: np.ndarray) -> np.ndarray:
        """The exact Hessian :math:`\\nabla^2 L(\\varphi)` (not negated).

        With :math:`G(u, \\varphi)` the gradient graph (:math:`\\nabla L = G(\\hat u_\\varphi,
        \\varphi)`), row :math:`k` is :math:`\\partial_\\varphi G_k + (\\partial\\hat
        u/\\partial\\varphi)^\\top \\partial_u G_k` with :math:`\\partial\\hat u/\\partial
        \\varphi = H^{-1}\\nabla^2_{u\\varphi} f`: one reverse pass over :math:`G` per
        coordinate of :math:`\\varphi`, compiled once (a graph twice the size of the
        gradient's rather than :math:`n_\\varphi` times).
        """
        phi = np.asarray(phi, dtype="float64")
        # The mode search's checks and the Gaussian at the mode ask for it at the same point,
        # on the same data (pm.set_data with values of the same shape keeps this marginal).
        data = data_digest([self.split.graph.logp])
        last = self._last_hessian
        if last is None or last[1] != data or not np.array_equal(last[0], phi):
            self._last_hessian = (phi.copy(), data, self._hessian(phi))
        return self._last_hessian[2].copy()

    def _hessian(self, phi: np.ndarray) -> np.ndarray:
        inner = self.conditional_mode(phi)
        if self.structured is not None:
            return self.structured.hessian(inner.u, phi, inner.precision)
        return total_derivative_along_the_mode(
            self._gradient_pullback_fn, inner.u, phi, self.sensitivity(inner, phi)
        )

    def sensitivity(self, inner: ConditionalMode, phi: np.ndarray) -> np.ndarray:
        """:math:`\\partial\\hat u/\\partial\\varphi = H^{-1}\\nabla^2_{u\\varphi} f`
        (``n_u × n_φ``) at the conditional mode ``inner`` of ``phi``."""
        if self.structured is None:
            return inner.precision.solve(np.asarray(self.split.mixed_fn(inner.u, phi)))
        return self.structured.sensitivity(inner.u, phi, inner.precision)

    # -- the search protocol of find_mode ----------------------------------------------------

    def logp_fn(self, phi):
        try:
            return self.value(phi)
        except InnerModeError:
            return -np.inf

    def logp_and_grad_fn(self, phi):
        try:
            return self.value_and_gradient(phi)
        except InnerModeError:
            return -np.inf, np.zeros(self.size)

    def hessian_fn(self, phi):
        try:
            return self.hessian(phi)
        except InnerModeError:
            return np.full((self.size, self.size), np.nan)

    def flatten(self, point) -> np.ndarray:
        """``φ`` in this marginal's space from a point (constrained values by name; the
        latent variables may be left out, and are ignored); a ``Mode`` of another density is
        refused (:func:`~pmfisher._core.model.target.point_values`)."""
        return self.split.split(self.split.graph.flatten(self.completed(point)))[1]

    def completed(self, point) -> dict:
        """Every free variable's value: the point's, and for the latent variables it leaves
        out (their values are the inner problem's to find) the model's initial point."""
        point = point_values(point, self)
        missing = [rv.name for rv in self.free_rvs if rv.name not in point]
        if missing:
            raise PointError(f"the point is missing free variable(s) {', '.join(missing)}.")
        full = dict(point)
        absent = [name for name in self.split.latent if name not in full]
        if absent:
            initial = self._initial_constrained()
            full |= {name: initial[name] for name in absent}
        return full

    def _initial_constrained(self) -> dict:
        unconstrained = model_graph(self.model, space="unconstrained", terms=self.split.graph.terms)
        initial = self.model.initial_point()
        flat = np.concatenate(
            [np.ravel(initial[block.name]) for block in unconstrained.blocks]
        ).astype("float64")
        return unconstrained.constrained_point(flat)

    def constrained_point(self, phi: np.ndarray) -> dict[str, np.ndarray]:
        """Every free variable in the constrained space, the latent ones at
        :math:`\\hat u_\\varphi`."""
        inner = self.conditional_mode(phi)
        return self.split.constrained_point(inner.u, phi)


def _finite(precision) -> bool:
    """Whether every entry of a dense or sparse :math:`H` is finite."""
    return bool(np.all(np.isfinite(precision.data if sparse.issparse(precision) else precision)))
