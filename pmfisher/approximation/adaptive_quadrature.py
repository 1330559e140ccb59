r"""Adaptive Gauss–Hermite quadrature of the Laplace marginal over the hyperparameters
(``laplace(latent=..., hyper="quadrature")``; Stringer, Brown and Stafford, *Fast, scalable
approximations to posterior distributions in extended latent Gaussian models*, JCGS 2023,
and their R package ``aghq``).

With :math:`\hat\varphi` the mode of the Laplace marginal :math:`L(\varphi)`
(:mod:`pmfisher.fitting.laplace_marginal`) and :math:`-\nabla^2 L(\hat\varphi) = LL^\top`
the Cholesky factor of its exact negative Hessian, the nodes of a Gauss–Hermite rule
(:mod:`pmfisher.approximation.quadrature`) are placed at :math:`\varphi_i = \hat\varphi +
L^{-\top} z_i`, so that

.. math::

    \int e^{L(\varphi)}\,d\varphi
    = \frac{(2\pi)^{d/2}\,e^{L(\hat\varphi)}}{\det L}\int \mathcal N(z\mid 0, I)\,g(z)\,dz
    \approx \frac{(2\pi)^{d/2}\,e^{L(\hat\varphi)}}{\det L}\sum_i w_i\, g(z_i),
    \qquad g(z) = e^{L(\varphi(z)) - L(\hat\varphi) + \frac12 z^\top z}.

One node (:math:`k = 1`) is the Laplace approximation of the integral; where
:math:`e^{L}` is Gaussian, :math:`g` is constant and every :math:`k` is exact. The
posterior of :math:`\varphi` is given by the normalized weights :math:`\pi_i \propto w_i
g(z_i)` over the nodes, and as a density by :math:`\mathcal N(z\mid 0, I)\,P_g(z)`, with
:math:`P_g` the polynomial that the rule integrates exactly (the interpolant of :math:`g`
at the nodes of a product grid), clipped at zero where it dips below. Draws come from it by
sampling-importance-resampling: ``OVERSAMPLING`` standard normal proposals per draw,
weighted by :math:`\max(P_g, 0)` and resampled systematically; the polynomial costs no
evaluation of :math:`L`.

Cost: :math:`L` is evaluated once per node, :math:`k^d` nodes on the product grid up to
``PRODUCT_GRID_MAX_DIMENSION`` dimensions and Smolyak's sparse grid above it (241 nodes at
:math:`k = 5` in ten dimensions), plus the :math:`k + 2` rule of the error indicator
(:mod:`pmfisher.approximation.marginal_likelihood`), which shares the mode with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from pmfisher._core.linalg.definiteness import PositiveDefinite, positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.options import NotPositiveDefinite
from pmfisher.approximation.conditional_draws import gaussian_log_density
from pmfisher.approximation.importance_sampling import systematic_resample
from pmfisher.approximation.quadrature import QuadratureRule, rule
from pmfisher.errors import NotFiniteError, warn
from pmfisher.fitting.laplace_marginal import InnerModeError, LaplaceMarginal

__all__ = ["DEFAULT_NODES", "MarginalQuadrature", "MarginalValues", "integrate", "mode_precision"]

#: Nodes per dimension by default: the fewest whose error on the Poisson GLMM of
#: ``tests/approximation/test_adaptive_quadrature.py`` (30 groups, two hyperparameters) is
#: below 1e-3 nats: 2.5e-2, 1.6e-3, 1.5e-4 and 2.2e-5 at k = 1, 3, 5, 7 against the trapezoid
#: rule. Where the posterior of log τ keeps the exponential left tail of a prior density
#: finite at τ = 0 (eight schools) the errors fall slowly: 0.14, 0.090, 0.036, 0.016.
DEFAULT_NODES = 5
#: Standard normal proposals per draw of the interpolated density.
OVERSAMPLING = 16


class MarginalValues:
    """:math:`L` at values of :math:`\\varphi` (``-inf`` where the inner problem has no mode),
    each computed once: the rules of :math:`k` and :math:`k + 2` nodes share the mode."""

    def __init__(self, marginal: LaplaceMarginal):
        self.marginal = marginal
        self._values: dict[bytes, float] = {}
        self.failed = 0

    def __call__(self, phis: np.ndarray) -> np.ndarray:
        values = np.empty(phis.shape[0])
        for row, phi in enumerate(phis):
            key = phi.tobytes()
            if key not in self._values:
                try:
                    self._values[key] = self.marginal.value(phi)
                except InnerModeError:
                    self._values[key] = -np.inf
                    self.failed += 1
            values[row] = self._values[key]
        return values


@dataclass(frozen=True)
class MarginalQuadrature:
    """The rule placed on :math:`L`: nodes ``phis`` ``(n, d)``, :math:`L` there
    (``log_marginals``), :math:`\\log g` (``log_g``), the log-integral of :math:`e^L`
    (``log_integral``) and the normalized posterior weights over the nodes (``weights``,
    negative ones possible on a sparse grid); ``values`` keeps :math:`L` for a finer rule."""

    rule: QuadratureRule
    values: MarginalValues
    phi_mode: np.ndarray
    precision: PositiveDefinite
    phis: np.ndarray
    log_marginals: np.ndarray
    log_g: np.ndarray
    log_integral: float
    weights: np.ndarray

    def draws(self, count: int, rng) -> tuple[np.ndarray, np.ndarray]:
        r"""``count`` draws of :math:`\varphi` from :math:`\mathcal N(z\mid 0,I)\max(P_g(z),
        0)` and their normalized log-density (the normalization by the proposals' mean
        weight, exact where :math:`P_g \ge 0`)."""
        dimension = self.phis.shape[1]
        proposals = rng.standard_normal((OVERSAMPLING * count, dimension))
        relative = np.exp(self.log_g - self.log_g.max())
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.maximum(self.rule.interpolate(relative, proposals), 0.0))
        chosen = rng.permutation(systematic_resample(log_weights, count, rng))
        standard = proposals[chosen]
        log_normalization = logsumexp(log_weights) - np.log(log_weights.size)
        log_q = (
            gaussian_log_density(standard, self.precision.log_determinant)
            + log_weights[chosen]
            - log_normalization
        )
        return self.phi_mode + self.precision.deviations(standard), log_q

    def fit(self, labels) -> xr.Dataset:
        """The posterior moments of :math:`\\varphi` by the rule, and its nodes, weights and
        :math:`L` there (dim ``quadrature_node``)."""
        mean = self.weights @ self.phis
        centred = self.phis - mean
        covariance = (self.weights[:, None] * centred).T @ centred
        if self.phis.shape[0] == 1:  # one node: the Gaussian at the mode, not a point mass
            covariance = self.precision.inverse()
        node = np.arange(self.phis.shape[0])
        return xr.Dataset(
            {
                "mean_vector": labelled.vector(mean, labels, name="mean_vector"),
                "covariance_matrix": labelled.square(
                    0.5 * (covariance + covariance.T), labels, name="covariance_matrix"
                ),
                "quadrature_phi": xr.DataArray(
                    self.phis,
                    dims=("quadrature_node", "param"),
                    coords={"quadrature_node": node, "param": list(labels)},
                ),
                "quadrature_weight": ("quadrature_node", self.weights),
                "quadrature_log_marginal": ("quadrature_node", self.log_marginals),
            },
            coords={"quadrature_node": node},
            attrs={"quadrature_rule": self.rule.kind},
        )


def mode_precision(
    marginal: LaplaceMarginal, phi_mode: np.ndarray, action: NotPositiveDefinite
) -> PositiveDefinite:
    """:math:`-\\nabla^2 L` at the mode with its Cholesky factor (the Gaussian hyper's
    precision; ``action`` as ``laplace``'s ``not_positive_definite``)."""
    precision = positive_definite(
        -marginal.hessian(phi_mode),
        marginal.labels,
        what="negative Hessian of the Laplace marginal at its mode (unconstrained space)",
        action=action,
    )
    if precision.regularization:
        warn(precision.regularization)
    return precision


def integrate(
    values: MarginalValues, phi_mode: np.ndarray, precision: PositiveDefinite, nodes: int
) -> MarginalQuadrature:
    """The ``nodes``-per-dimension rule placed on :math:`L` at its mode (module docstring)."""
    placed = rule(dimension=phi_mode.size, nodes=nodes)
    phis = phi_mode + precision.deviations(placed.nodes)
    failed_before = values.failed
    log_marginals = values(phis)
    at_mode = values(phi_mode[None, :])[0]
    if values.failed > failed_before:
        warn(
            f"the inner problem has no mode at {values.failed - failed_before} of "
            f"{phis.shape[0]} quadrature nodes of {', '.join(values.marginal.labels)}; they "
            "count as zero density."
        )
    log_g = log_marginals - at_mode + 0.5 * np.einsum("nd,nd->n", placed.nodes, placed.nodes)
    log_sum, sign = logsumexp(log_g, b=placed.weights, return_sign=True)
    if sign <= 0:
        raise NotFiniteError(
            f"the {placed.kind} quadrature of {nodes} nodes per dimension over "
            f"{', '.join(values.marginal.labels)} gives a non-positive integral (negative "
            "sparse-grid weights outweigh the rest): use more nodes."
        )
    log_integral = (
        at_mode
        + 0.5 * phi_mode.size * np.log(2 * np.pi)
        - 0.5 * precision.log_determinant
        + log_sum
    )
    with np.errstate(under="ignore"):
        weights = placed.weights * np.exp(log_g - log_sum)
    return MarginalQuadrature(
        rule=placed,
        values=values,
        phi_mode=phi_mode,
        precision=precision,
        phis=phis,
        log_marginals=log_marginals,
        log_g=log_g,
        log_integral=float(log_integral),
        weights=weights,
    )
