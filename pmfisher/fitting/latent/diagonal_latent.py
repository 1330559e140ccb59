r"""The Laplace marginal's pieces when the latent Hessian is diagonal.

Independent group effects given the hyperparameters (a hierarchical model's ``z[group]``)
make :math:`H = -\nabla^2_{uu} f` diagonal. Its diagonal is one Hessian-vector product,
:math:`h = -\nabla^2_{uu} f\,\mathbf 1`, exactly, so every piece of the Laplace marginal
:math:`L(\varphi) = f(\hat u, \varphi) - \tfrac12\sum_i\log h_i + \tfrac{n_u}2\log 2\pi`
(:mod:`pmfisher.fitting.laplace_marginal`) is elementwise in :math:`u`: a Newton step is
:math:`g / h`, the log-determinant a sum, a solve a division — no sparse Hessian, no CHOLMOD
factor, no selected inverse (the general sparse route, :mod:`pmfisher.fitting.latent.sparse_latent`,
needs all three and one Hessian product per colour).

**Gradient** (the implicit function theorem). With :math:`\tilde L(u, \varphi) = f -
\tfrac12\sum\log h` and :math:`M = \nabla^2_{u\varphi} f`, so that
:math:`\partial\hat u/\partial\varphi = H^{-1}M`,

.. math::

    G(u, \varphi) = \nabla_\varphi \tilde L + M^\top\big(\nabla_u \tilde L \,/\, h\big),
    \qquad \nabla L(\varphi) = G(\hat u_\varphi, \varphi),

one compiled graph of :math:`(u, \varphi)` (third derivatives of :math:`f`; :math:`M` by
:math:`n_\varphi` forward passes).

**Hessian.** :math:`G` is a function of :math:`(u, \varphi)` with nothing held, so
:math:`\nabla^2 L` is its total derivative along :math:`\hat u_\varphi`: row :math:`k` is
:math:`\partial_\varphi G_k + (H^{-1}M)^\top \partial_u G_k`, one reverse pass over
:math:`G` per coordinate of :math:`\varphi` (fourth derivatives), as the dense route does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

from pmfisher._core.compiled.compilation import compile_derived, few_calls_backend
from pmfisher._core.curvature import derivatives
from pmfisher.fitting.latent.latent_split import LatentSplit, total_derivative_along_the_mode

__all__ = ["DiagonalLatent", "DiagonalPositiveDefinite"]


@dataclass(frozen=True)
class DiagonalPositiveDefinite:
    """A diagonal positive definite precision, held as its diagonal ``matrix`` (a vector):
    the interface of :class:`~pmfisher._core.linalg.definiteness.PositiveDefinite` and
    :class:`~pmfisher._core.linalg.sparse_cholesky.SparsePositiveDefinite`."""

    matrix: np.ndarray
    regularization: ClassVar[str] = ""

    @property
    def log_determinant(self) -> float:
        return float(np.log(self.matrix).sum())

    def solve(self, vector: np.ndarray) -> np.ndarray:
        """:math:`H^{-1} b` for a vector or the columns of a matrix."""
        return vector / self.matrix.reshape(-1, *([1] * (np.ndim(vector) - 1)))

    def deviations(self, standard: np.ndarray) -> np.ndarray:
        """Draws of :math:`N(0, H^{-1})` from standard normal rows."""
        return standard / np.sqrt(self.matrix)


class DiagonalLatent:
    """The pieces of one split's Laplace marginal for a diagonal latent Hessian;
    ``split.companion(DiagonalLatent)``. The same methods as
    :class:`~pmfisher.fitting.latent.sparse_latent.SparseLatent`, with :math:`H` its diagonal."""

    def __init__(self, split: LatentSplit):
        self.split = split

    @functools.cached_property
    def curvature_fn(self):
        """``(u, φ) → f, ∇_u f, h = -∇²_uu f 1`` (also the Newton step of every draw of
        :mod:`pmfisher.approximation.conditional_draws`)."""
        split = self.split
        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            lambda: list(self._curvature_graphs()),
            recipe="inner Newton: f, ∇_u f, diagonal of -∇²_uu f",
            backend=few_calls_backend(split.graph.size),
        )

    def _curvature_graphs(self):
        split = self.split
        gradient = derivatives.gradient(split.logp, split.u)
        return split.logp, gradient, -derivatives.gradient(gradient.sum(), split.u)

    def curvature(self, u, phi):
        """``f``, :math:`\\nabla_u f` and the diagonal ``h`` of :math:`H` at ``(u, φ)``."""
        logp, gradient, diagonal = self.curvature_fn(u, phi)
        return float(logp), np.asarray(gradient), np.asarray(diagonal)

    @functools.cached_property
    def _curvature_and_gradient_fn(self):
        split = self.split
        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            lambda: [*self._curvature_graphs(), self._gradient_graph()],
            recipe="inner Newton's last step with the Laplace marginal gradient, diagonal H",
            backend=few_calls_backend(split.graph.size),
        )

    def curvature_and_gradient(self, u, phi):
        """:meth:`curvature` and :math:`G(u, \\varphi)` in one call: at the last point of
        the inner Newton iteration, which is :math:`\\hat u`, they are :math:`f(\\hat u)`,
        :math:`H` and :math:`\\nabla L` — one call instead of two when the sampler asks for
        a value and gradient."""
        logp, gradient_u, diagonal, gradient = self._curvature_and_gradient_fn(u, phi)
        return float(logp), np.asarray(gradient_u), np.asarray(diagonal), np.asarray(gradient)

    @functools.cached_property
    def _gaussian_mode_fn(self):
        split = self.split

        def build():
            logp, gradient_u, diagonal = self._curvature_graphs()
            mode = split.u + gradient_u / diagonal
            # h does not depend on u, and ∇_u f(û) = 0: G reduces to its partial in φ.
            partial = derivatives.gradient(logp - 0.5 * pt.log(diagonal).sum(), split.phi)
            at_mode = graph_replace([logp, partial], {split.u: mode}, strict=False)
            return [mode, at_mode[0], diagonal, at_mode[1]]

        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            build,
            recipe="Gaussian conditional: one Newton step, f, h and the marginal gradient at û",
            backend=few_calls_backend(split.graph.size),
        )

    def gaussian_mode(self, u, phi):
        r""":math:`\hat u_\varphi`, :math:`f(\hat u, \varphi)`, ``h`` and :math:`\nabla
        L(\varphi)` in one call, for a Gaussian conditional
        (``split.conditional_is_gaussian``): there :math:`f` is quadratic in :math:`u`, so the
        Newton step from any ``u`` lands on :math:`\hat u = u + g / h`, ``h`` is the same
        everywhere, and :math:`\nabla L = \partial_\varphi\big(f - \tfrac12\sum\log
        h\big)` at :math:`\hat u` (the implicit term vanishes with :math:`\nabla_u f`). One
        compiled call where the Newton iteration takes two (a step, then its check)."""
        mode, logp, diagonal, gradient = self._gaussian_mode_fn(u, phi)
        return np.asarray(mode), float(logp), np.asarray(diagonal), np.asarray(gradient)

    def factor(self, diagonal: np.ndarray) -> DiagonalPositiveDefinite | None:
        """The precision, or ``None`` where it is not positive definite (or not finite)."""
        if np.all(np.isfinite(diagonal)) and np.all(diagonal > 0):
            return DiagonalPositiveDefinite(diagonal)
        return None

    def shifted_factor(self, diagonal: np.ndarray) -> DiagonalPositiveDefinite:
        """``h + τ`` for the smallest τ = 10^k·scale that makes it positive (as the dense and
        sparse routes shift)."""
        scale = max(float(np.abs(diagonal).max()), 1.0)
        for power in range(-8, 17):
            shifted = self.factor(diagonal + 10.0**power * scale)
            if shifted is not None:
                return shifted
        return DiagonalPositiveDefinite(np.full_like(diagonal, scale))

    @functools.cached_property
    def mean_shift_fn(self):
        """``(u, φ) → -½ H⁻¹ ∇_u log det H``, elementwise :math:`-\\tfrac12 h_i'(u_i) / h_i^2`
        (:math:`h_i` depends on :math:`u_i` alone): at :math:`\\hat u` the first-order shift
        of the conditional mean from the mode (:mod:`pmfisher.fitting.conditional_mean`)."""
        split = self.split

        def build():
            diagonal = self._curvature_graphs()[2]
            return -0.5 * derivatives.gradient(pt.log(diagonal).sum(), split.u) / diagonal

        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            build,
            recipe="mean shift of the conditional: -½ H⁻¹ ∇_u log det H, diagonal H",
            backend=few_calls_backend(split.graph.size),
        )

    # -- derivatives of the marginal ---------------------------------------------------------

    def _gradient_graph(self):
        """:math:`G(u, \\varphi)` (module docstring), with :math:`M^\\top w` as one reverse
        pass over :math:`\\nabla_u f` with cotangent :math:`w`: no ``n_u × n_φ`` matrix (whose
        scatter through ``z[group]`` had no C implementation: 1.8 of 2.9 ms a call at
        J = 2,000), and ``w`` stays a graph, so :math:`G` can be differentiated again."""
        split = self.split
        gradient_u = derivatives.gradient(split.logp, split.u)
        diagonal = -derivatives.gradient(gradient_u.sum(), split.u)
        partial = split.logp - 0.5 * pt.log(diagonal).sum()
        by_u, by_phi = derivatives.gradient(partial, [split.u, split.phi])
        return by_phi + derivatives.vector_jacobian_product(gradient_u, split.phi, by_u / diagonal)

    @functools.cached_property
    def _gradient_fn(self):
        split = self.split
        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            self._gradient_graph,
            recipe="Laplace marginal gradient, diagonal latent Hessian",
            backend=few_calls_backend(split.graph.size),
        )

    @functools.cached_property
    def _pullback_fn(self):
        """``(u, φ, c) → ∂(c·G)/∂u, ∂(c·G)/∂φ``: a row of the Hessian per ``c = e_k`` (a few
        calls: without C on a small model)."""
        split = self.split
        cotangent = split.phi.type("cotangent")

        def build():
            contracted = (cotangent * self._gradient_graph()).sum()
            return derivatives.gradient(contracted, [split.u, split.phi])

        return compile_derived(
            [split.u, split.phi, cotangent],
            [split.logp],
            build,
            recipe="Laplace marginal: pullback of the gradient, diagonal latent Hessian",
            backend=few_calls_backend(split.graph.size),
        )

    def gradient(self, u, phi, precision: DiagonalPositiveDefinite) -> np.ndarray:
        """:math:`\\nabla L` at ``φ`` from :math:`\\hat u`."""
        return np.asarray(self._gradient_fn(u, phi))

    def sensitivity(self, u, phi, precision: DiagonalPositiveDefinite) -> np.ndarray:
        """:math:`\\partial\\hat u/\\partial\\varphi = H^{-1}M` (``n_u × n_φ``)."""
        return precision.solve(np.asarray(self.split.mixed_fn(u, phi)))

    def hessian(self, u, phi, precision: DiagonalPositiveDefinite) -> np.ndarray:
        """The exact :math:`\\nabla^2 L` (not negated); see the module docstring."""
        return total_derivative_along_the_mode(
            self._pullback_fn, u, phi, self.sensitivity(u, phi, precision)
        )
