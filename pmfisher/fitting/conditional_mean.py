r"""The mean of the latent variables given :math:`\varphi`, to first order beyond the mode.

The Laplace marginal (:mod:`pmfisher.fitting.laplace_marginal`) stands on the Gaussian
:math:`\mathcal N(\hat u_\varphi, H^{-1})` at the conditional mode; its mean is the mode,
which a skewed conditional (few Poisson counts, a logistic group) does not share. With
:math:`f(u) = \log p(u, \varphi, y)` at fixed :math:`\varphi`, :math:`\Sigma = H^{-1}`,
:math:`H = -\nabla^2_{uu} f(\hat u)` and :math:`T_{jkl} = \partial^3_{jkl} f(\hat u)`, the
expansion of :math:`f` to third order about :math:`\hat u`, :math:`e^{f} \propto
\mathcal N(v; 0, \Sigma)\,(1 + \tfrac16 T[v, v, v] + \dots)` with :math:`v = u - \hat u`,
gives by Isserlis' theorem

.. math::

    \operatorname E[u - \hat u] \approx \tfrac12 \sum_{j,k,l} \Sigma_{ij}\Sigma_{kl} T_{jkl}
    = -\tfrac12\, H^{-1}\nabla_u \log\det H(u)\big|_{\hat u} =: \delta,

since :math:`\partial_j \log\det H = \operatorname{tr}(H^{-1}\partial_j H) =
-\sum_{kl}\Sigma_{kl}T_{jkl}`. For a group of :math:`n` observations (a standard deviation
of order :math:`n^{-1/2}`) the mode is off the mean by :math:`O(n^{-1})`, :math:`\hat u +
\delta` by :math:`O(n^{-2})` (the terms of the fifth order and of :math:`T` with the fourth
derivatives). R-INLA's simplified Laplace strategy corrects the location of each marginal by
an expansion to the same third order (Rue, Martino and Chopin 2009, § 3.2.3); here it is the
joint mean, with exact third derivatives.
One Poisson count :math:`y` with log-rate :math:`u \sim \mathcal N(m, s^2)`: :math:`H =
e^{u} + s^{-2}`, :math:`\delta = -\tfrac12 e^{\hat u} / H^2 < 0` — the conditional is
skewed to the left and its mean lies below its mode.

Each route of the marginal forms :math:`H^{-1}\nabla_u\log\det H` already for the gradient of
:math:`L` (the adjoint of the inner optimum), and :math:`\delta` is that vector:

* **diagonal** :math:`H` (:mod:`~pmfisher.fitting.latent.diagonal_latent`): elementwise
  :math:`-\tfrac12 h_i'(\hat u_i) / h_i^2`, one compiled call of :math:`(u, \varphi)`;
* **sparse** (:mod:`~pmfisher.fitting.latent.sparse_latent`): :math:`\tfrac12 H^{-1}
  \partial_u T`, the reverse pass over the Hessian products weighted by the selected
  inverse, and one CHOLMOD solve;
* **dense**: :math:`\nabla_u \log\det H` by reverse mode through the Cholesky factor of
  :math:`H(u)`, and one LAPACK solve.

A Gaussian conditional (``split.conditional_is_gaussian``) has :math:`T = 0` and
:math:`\delta = 0` exactly: nothing is computed.
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt

from pmfisher._core.compiled.compilation import compile_derived, few_calls_backend
from pmfisher._core.curvature import derivatives
from pmfisher.fitting.laplace_marginal import ConditionalMode, LaplaceMarginal
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.latent.latent_split import LatentSplit
from pmfisher.fitting.latent.sparse_latent import SparseLatent

__all__ = ["add_diagonal_mean_shifts", "conditional_mean_shift"]


def conditional_mean_shift(
    marginal: LaplaceMarginal, inner: ConditionalMode, phi: np.ndarray
) -> np.ndarray:
    """:math:`\\delta = -\\tfrac12 H^{-1}\\nabla_u\\log\\det H` at the conditional mode
    ``inner`` of ``phi`` (module docstring): :math:`\\hat u + \\delta` is the conditional
    mean to first order beyond the mode.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher.fitting.laplace_marginal import laplace_marginal
    >>> with pm.Model() as model:
    ...     m = pm.Normal("m", 0, 1)
    ...     u = pm.Normal("u", m, 1, shape=1)
    ...     y = pm.Poisson("y", pm.math.exp(u), observed=[2])
    >>> marginal = laplace_marginal(model, "u", space="unconstrained", terms="posterior")
    >>> inner = marginal.conditional_mode(np.array([0.0]))
    >>> h = np.exp(inner.u) + 1.0  # e^û + 1/s²
    >>> shift = conditional_mean_shift(marginal, inner, np.array([0.0]))
    >>> bool(np.allclose(shift, -0.5 * np.exp(inner.u) / h**2))
    True
    """
    phi = np.asarray(phi, dtype="float64")
    if marginal.split.conditional_is_gaussian:
        return np.zeros(marginal.split.n_u)
    structured = marginal.structured
    if isinstance(structured, DiagonalLatent):
        return np.asarray(structured.mean_shift_fn(inner.u, phi))
    if isinstance(structured, SparseLatent):
        return structured.mean_shift(inner.u, phi, inner.precision)
    gradient = marginal.split.companion(_DenseLogDeterminantGradient).function(inner.u, phi)
    return -0.5 * inner.precision.solve(np.asarray(gradient))


def add_diagonal_mean_shifts(
    split: LatentSplit, draws: np.ndarray, modes: np.ndarray, phis: np.ndarray, rows
) -> None:
    """Add :math:`\\delta` at each row's mode to ``draws[rows]`` in place, for a diagonal
    :math:`H` (the draws of many rows solved in lockstep), one compiled call a row; nothing
    for a Gaussian conditional."""
    if split.conditional_is_gaussian:
        return
    function = split.companion(DiagonalLatent).mean_shift_fn
    for row in rows:
        draws[row] += np.asarray(function(modes[row], phis[row]))


class _DenseLogDeterminantGradient:
    """``(u, φ) → ∇_u log det H(u)`` for a dense :math:`H`, through its Cholesky factor."""

    def __init__(self, split: LatentSplit):
        self.split = split

    @functools.cached_property
    def function(self):
        split = self.split

        def build():
            cholesky = pt.linalg.cholesky(-derivatives.hessian(split.logp, split.u))
            return derivatives.gradient(2 * pt.log(pt.diag(cholesky)).sum(), split.u)

        return compile_derived(
            [split.u, split.phi],
            [split.logp],
            build,
            recipe="gradient in u of the log-determinant of the dense latent Hessian",
            backend=few_calls_backend(split.graph.size),
        )
