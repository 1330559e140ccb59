r"""The Laplace marginal's pieces when the latent Hessian is diagonal.

Independent group effects given the hyperparameters (a hierarchical model's ``z[group]``)
make :math:`H = -\nabla^2_{uu} f` diagonal. Its diagonal is one Hessian-vector product,
:math:`h = -\nabla^2_{uu} f\,\mathbf 1`, exactly, so every piece of the Laplace marginal
:math:`L(\varphi) = f(\hat u, \varphi) - \tfrac12\sum_i\log h_i + \tfrac{n_u}2\log 2\pi`
(:mod:`pmfisher.fitting.laplace_marginal`) is elementwise in :math:`u`: a Newton step is
:math:`g / h`, the log-determinant a sum, a solve a division — no sparse Hessian, no CHOLMOD
factor, no selected inverse (the general sparse route, :mod:`pmfisher._core.sparse_latent`,
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

from pmfisher._core import derivatives
from pmfisher._core.compilation import compile_derived
from pmfisher._core.latent_split import LatentSplit, total_derivative_along_the_mode

__all__ = ["DiagonalLatent", "DiagonalPositiveDefinite"]


@dataclass(frozen=True)
class DiagonalPositiveDefinite:
    """A diagonal positive definite precision, held as its diagonal ``matrix`` (a vector):
    the interface of :class:`~pmfisher._core.definiteness.PositiveDefinite` and
    :class:`~pmfisher._core.sparse_cholesky.SparsePositiveDefinite`."""

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
    :class:`~pmfisher._core.sparse_latent.SparseLatent`, with :math:`H` its diagonal."""

    def __init__(self, split: LatentSplit):
        self.split = split

    @functools.cached_property
    def curvature_fn(self):
        """``(u, φ) → f, ∇_u f, h = -∇²_uu f 1`` (also the Newton step of every draw of
        :mod:`pmfisher.approximation.conditional_draws`)."""
        split = self.split

        def build():
            gradient = derivatives.gradient(split.logp, split.u)
            return [split.logp, gradient, -derivatives.gradient(gradient.sum(), split.u)]

        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            build,
            recipe="inner Newton: f, ∇_u f, diagonal of -∇²_uu f",
        )

    def curvature(self, u, phi):
        """``f``, :math:`\\nabla_u f` and the diagonal ``h`` of :math:`H` at ``(u, φ)``."""
        logp, gradient, diagonal = self.curvature_fn(u, phi)
        return float(logp), np.asarray(gradient), np.asarray(diagonal)

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

    # -- derivatives of the marginal ---------------------------------------------------------

    def _gradient_graph(self):
        """:math:`G(u, \\varphi)` and :math:`M` (module docstring)."""
        split = self.split
        gradient_u = derivatives.gradient(split.logp, split.u)
        diagonal = -derivatives.gradient(gradient_u.sum(), split.u)
        partial = split.logp - 0.5 * pt.log(diagonal).sum()
        mixed = derivatives.jacobian_forward(gradient_u, split.phi)  # n_u × n_φ
        by_u, by_phi = derivatives.gradient(partial, [split.u, split.phi])
        return by_phi + mixed.T @ (by_u / diagonal), mixed

    @functools.cached_property
    def _gradient_fn(self):
        split = self.split
        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            self._gradient_graph,
            recipe="Laplace marginal gradient, diagonal latent Hessian",
        )

    @functools.cached_property
    def _pullback_fn(self):
        """``(u, φ, c) → ∂(c·G)/∂u, ∂(c·G)/∂φ``: a row of the Hessian per ``c = e_k``."""
        split = self.split
        cotangent = split.phi.type("cotangent")

        def build():
            gradient, _ = self._gradient_graph()
            return derivatives.gradient((cotangent * gradient).sum(), [split.u, split.phi])

        return compile_derived(
            [split.u, split.phi, cotangent],
            [split.logp],
            build,
            recipe="Laplace marginal: pullback of the gradient, diagonal latent Hessian",
        )

    def gradient(self, u, phi, precision: DiagonalPositiveDefinite):
        """:math:`\\nabla L` at ``φ`` from :math:`\\hat u`, and :math:`M` there."""
        gradient, mixed = self._gradient_fn(u, phi)
        return np.asarray(gradient), np.asarray(mixed)

    def sensitivity(self, u, phi, precision: DiagonalPositiveDefinite) -> np.ndarray:
        """:math:`\\partial\\hat u/\\partial\\varphi = H^{-1}M` (``n_u × n_φ``)."""
        return precision.solve(self.gradient(u, phi, precision)[1])

    def hessian(self, u, phi, precision: DiagonalPositiveDefinite) -> np.ndarray:
        """The exact :math:`\\nabla^2 L` (not negated); see the module docstring."""
        return total_derivative_along_the_mode(
            self._pullback_fn, u, phi, self.sensitivity(u, phi, precision)
        )
