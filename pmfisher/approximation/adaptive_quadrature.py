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
:math:`k = 5` in ten dimensions), plus the :math:`k + 2` rule of the error bound, which
shares the mode with it. ``nodes="auto"`` (:func:`adaptive_integral`) takes 3, 5, then 7
nodes per dimension (152 evaluations in three dimensions where 5 suffice) and, where
Gauss–Hermite converges slowly in up to two dimensions, the sinh-trapezoid rule's 625
(:mod:`pmfisher.approximation.sinh_trapezoid`), whose draws spread each node's weight over
its cell.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from pmfisher._core.linalg.definiteness import PositiveDefinite, positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.options import NotPositiveDefinite
from pmfisher.approximation.conditional_draws import gaussian_log_density
from pmfisher.approximation.importance_sampling import systematic_resample
from pmfisher.approximation.quadrature import QuadratureRule, rule
from pmfisher.approximation.sinh_trapezoid import (
    COARSE_STEP,
    MAX_DIMENSION,
    SinhTrapezoidRule,
    sinh_trapezoid_rule,
)
from pmfisher.errors import NotFiniteError, warn
from pmfisher.fitting.laplace_marginal import InnerModeError, LaplaceMarginal

__all__ = [
    "AUTO_TOLERANCE",
    "DEFAULT_NODES",
    "MarginalQuadrature",
    "MarginalValues",
    "adaptive_integral",
    "integrate",
    "mode_precision",
]

#: ``nodes`` by default: Gauss–Hermite with 3, 5 and 7 nodes per dimension, kept where its
#: error bound is below ``AUTO_TOLERANCE``, else the sinh-trapezoid rule (up to two dimensions) or
#: more nodes (see :func:`adaptive_integral`). Against a direct integral of the Laplace
#: marginal, Gauss–Hermite's errors at k = 1, 3, 5, 7, 21 are 2.5e-2, 3.6e-3, 4.1e-4, 5e-5,
#: 0 nats on the Poisson GLMM of ``tests/approximation/test_adaptive_quadrature.py`` (30
#: groups), but 0.13, 0.042, 0.019, 0.011, 0.0015 with 6 groups and 0.14, 0.088, 0.037, 0.017,
#: 7e-4 on eight schools, where log τ keeps the exponential left tail of a prior density
#: finite at τ = 0; the sinh-trapezoid rule's are 2.3e-7, 8e-9 and 2.5e-7.
DEFAULT_NODES = "auto"
#: The error bound (nats) that ``nodes="auto"`` accepts from Gauss–Hermite.
AUTO_TOLERANCE = 1e-3
#: ``nodes="auto"`` above ``MAX_DIMENSION`` dimensions raises k while the rule has at most
#: this many nodes.
AUTO_MAX_RULE_SIZE = 2000
#: Standard normal proposals per draw of the interpolated density.
OVERSAMPLING = 16


class MarginalValues:
    """:math:`L` at values of :math:`\\varphi` (``-inf`` where the inner problem has no mode),
    each computed once: the rules of :math:`k` and :math:`k + 2` nodes share the mode.

    Once :meth:`predict_from` has been given the mode :math:`\\hat\\varphi`, each inner solve
    starts at the first-order prediction of its mode, :math:`\\hat u_{\\hat\\varphi} +
    (\\partial\\hat u/\\partial\\varphi)(\\varphi - \\hat\\varphi)` (the implicit function
    theorem, as the draws of :mod:`pmfisher.approximation.conditional_draws` start), rather
    than at the previous node's mode: on a Poisson GLMM of 2,000 groups, 1.8–2.1 Newton steps
    a node instead of 3.2–3.3. The solve ends at the same :math:`\\hat u` to rounding, so
    :math:`L` is unchanged. A Gaussian conditional needs no prediction (one Newton step from
    anywhere); where :math:`f` is not finite at the prediction, the solve starts as before."""

    def __init__(self, marginal: LaplaceMarginal):
        self.marginal = marginal
        self._values: dict[bytes, float] = {}
        self.failed = 0
        self._prediction: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def predict_from(self, phi_mode: np.ndarray) -> None:
        """Start the inner solves from the first-order prediction around ``phi_mode`` (the
        mode and sensitivity there: one solve and one mixed derivative)."""
        marginal = self.marginal
        kept = self._prediction
        if marginal.split.conditional_is_gaussian or (
            kept is not None and np.array_equal(kept[0], phi_mode)
        ):
            return
        inner = marginal.conditional_mode(phi_mode)
        self._prediction = (
            np.array(phi_mode, dtype="float64"),
            inner.u,
            marginal.sensitivity(inner, phi_mode),
        )

    def __call__(self, phis: np.ndarray) -> np.ndarray:
        values = np.empty(phis.shape[0])
        for row, phi in enumerate(phis):
            key = phi.tobytes()
            if key not in self._values:
                try:
                    self._values[key] = self._solved(phi)
                except InnerModeError:
                    self._values[key] = -np.inf
                    self.failed += 1
            values[row] = self._values[key]
        return values

    def _solved(self, phi: np.ndarray) -> float:
        if self._prediction is None:
            return self.marginal.value(phi)
        phi_mode, u_mode, sensitivity = self._prediction
        try:
            return self.marginal.value(phi, start=u_mode + sensitivity @ (phi - phi_mode))
        except InnerModeError:  # the prediction may lie where f is not finite
            return self.marginal.value(phi)


@dataclass(frozen=True)
class MarginalQuadrature:
    """The rule placed on :math:`L`: nodes ``phis`` ``(n, d)``, :math:`L` there
    (``log_marginals``), :math:`\\log g` (``log_g``), the log-integral of :math:`e^L`
    (``log_integral``) and the normalized posterior weights over the nodes (``weights``,
    negative ones possible on a sparse grid); ``values`` keeps :math:`L` for a finer rule."""

    rule: QuadratureRule | SinhTrapezoidRule
    values: MarginalValues
    phi_mode: np.ndarray
    precision: PositiveDefinite
    phis: np.ndarray
    log_marginals: np.ndarray
    log_g: np.ndarray
    log_integral: float
    weights: np.ndarray
    error: float = np.nan
    method: str = ""

    def draws(self, count: int, rng) -> tuple[np.ndarray, np.ndarray]:
        r"""``count`` draws of :math:`\varphi` from :math:`\mathcal N(z\mid 0,I)\max(P_g(z),
        0)` and their normalized log-density (the normalization by the proposals' mean
        weight, exact where :math:`P_g \ge 0`)."""
        if isinstance(self.rule, SinhTrapezoidRule):
            standard, log_q_standard = self.rule.sample(self.log_g, count, rng)
            log_q = log_q_standard + 0.5 * self.precision.log_determinant
            return self.phi_mode + self.precision.deviations(standard), log_q
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
    values: MarginalValues,
    phi_mode: np.ndarray,
    precision: PositiveDefinite,
    nodes: int | QuadratureRule | SinhTrapezoidRule,
) -> MarginalQuadrature:
    """The ``nodes``-per-dimension Gauss–Hermite rule (or the rule ``nodes``) placed on
    :math:`L` at its mode (module docstring)."""
    placed = rule(dimension=phi_mode.size, nodes=nodes) if isinstance(nodes, int) else nodes
    phis = phi_mode + precision.deviations(placed.nodes)
    values.predict_from(phi_mode)
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
            f"the {placed.kind} quadrature of {placed.nodes.shape[0]} nodes over "
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


def gauss_hermite_bound(nodes: int, coarse: float, fine: float) -> float:
    r"""A bound on the error of the ``nodes`` rule from its change to ``nodes + 2``.

    Where Gauss–Hermite converges only algebraically, :math:`e_k \approx C k^{-p}`, the
    change :math:`\Delta = e_k - e_{k+2}` understates :math:`e_k` by
    :math:`1/(1 - (k/(k+2))^p)`; the measured :math:`p` are 1.6 to 2.4 (the GLMM with 6 groups,
    eight schools), and :math:`p \ge 1` gives :math:`e_k \le \Delta\,(k + 2)/2`, also a bound
    on the finer rule's error. Where it converges geometrically it overstates (30 groups,
    k = 5: 1.3e-3 for an error of 4.1e-4)."""
    return abs(fine - coarse) * (nodes + 2) / 2


def adaptive_integral(
    values: MarginalValues, phi_mode: np.ndarray, precision: PositiveDefinite, nodes
) -> MarginalQuadrature:
    r"""The rule placed on :math:`L` with its ``error`` and ``method``.

    ``nodes`` an odd integer: that Gauss–Hermite rule, its error bounded from the change to
    ``nodes + 2`` (:func:`gauss_hermite_bound`). ``nodes="auto"``: Gauss–Hermite with 3 and
    5 nodes per dimension, then 7, the finer rule kept once the bound is below
    ``AUTO_TOLERANCE`` (where the posterior of φ is close to Gaussian, as with many groups, 5
    nodes: 152 evaluations of :math:`L` in three dimensions instead of 467); otherwise up to
    ``MAX_DIMENSION`` dimensions the sinh-trapezoid rule
    (:mod:`pmfisher.approximation.sinh_trapezoid`) of step :math:`h/2`, its error the change
    from :math:`h` plus the mass on its outermost nodes; above it k rises by 2 while the rule
    has at most ``AUTO_MAX_RULE_SIZE`` nodes, with a warning if the bound stays above the
    tolerance."""
    dimension = phi_mode.size
    if nodes != "auto":
        placed = integrate(values, phi_mode, precision, nodes)
        finer = integrate(values, phi_mode, precision, nodes + 2)
        error = gauss_hermite_bound(nodes, placed.log_integral, finer.log_integral)
        return replace(placed, error=error, method=_gauss_hermite_method(placed, nodes))
    k = 3
    placed = integrate(values, phi_mode, precision, k)
    finer = integrate(values, phi_mode, precision, k + 2)
    error = gauss_hermite_bound(k, placed.log_integral, finer.log_integral)
    if error > AUTO_TOLERANCE:
        k = 5
        placed, finer = finer, integrate(values, phi_mode, precision, k + 2)
        error = gauss_hermite_bound(k, placed.log_integral, finer.log_integral)
    if error > AUTO_TOLERANCE and dimension <= MAX_DIMENSION:
        coarse = integrate(
            values, phi_mode, precision, sinh_trapezoid_rule(dimension=dimension, step=COARSE_STEP)
        )
        fine = integrate(
            values,
            phi_mode,
            precision,
            sinh_trapezoid_rule(dimension=dimension, step=COARSE_STEP / 2),
        )
        error = abs(fine.log_integral - coarse.log_integral) + fine.rule.boundary_mass(fine.log_g)
        method = (
            "sinh-trapezoid quadrature of the Laplace marginal "
            f"({fine.phis.shape[0]} nodes, step {COARSE_STEP / 2} in t = asinh z; Gauss–Hermite's "
            f"error bound at 5 nodes per dimension was above {AUTO_TOLERANCE}; error: the change "
            f"from step {COARSE_STEP} plus the mass on the outermost nodes)"
        )
        return replace(fine, error=error, method=method)
    while (
        error > AUTO_TOLERANCE
        and rule(dimension=dimension, nodes=k + 4).nodes.shape[0] <= AUTO_MAX_RULE_SIZE
    ):
        k += 2
        placed, finer = finer, integrate(values, phi_mode, precision, k + 2)
        error = gauss_hermite_bound(k, placed.log_integral, finer.log_integral)
    if error > AUTO_TOLERANCE:
        warn(
            f"the quadrature of the Laplace marginal over {', '.join(values.marginal.labels)} "
            f"reaches an error bound of {error:.2g} nats with {k + 2} nodes per dimension, "
            f"above {AUTO_TOLERANCE}; pass a larger odd nodes= to go further."
        )
    return replace(finer, error=error, method=_gauss_hermite_method(finer, k + 2, bounded=k))


def _gauss_hermite_method(placed: MarginalQuadrature, nodes: int, bounded: int | None = None):
    bounded = nodes if bounded is None else bounded
    return (
        f"adaptive Gauss–Hermite quadrature of the Laplace marginal ({placed.rule.kind} rule, "
        f"{nodes} nodes per dimension; error: the change from {bounded} to {bounded + 2} "
        f"nodes times {(bounded + 2) / 2:g})"
    )
