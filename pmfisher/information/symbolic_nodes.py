r"""Quadrature rules of a continuous univariate distribution, as PyTensor graphs of θ.

A rule is a list of pieces ``(nodes, weights)``, each of shape ``(K, *batch)``, with

.. math::

    E[g(Y)] \approx \sum_{\text{pieces}} \sum_k w_k\, g(y_k)

for every observation of the batch. The pieces follow the distribution's structure, so
that point masses are summed exactly and only smooth integrands meet a quadrature:

* a plain distribution with a quantile function :math:`F^{-1}`: Gauss–Hermite on the probit
  scale, :math:`y_k = F^{-1}(\Phi(z_k))` at :data:`HERMITE_NODES` nodes;
* ``pm.Censored(dist, lower, upper)``: the point masses :math:`F(l)` at :math:`l` and
  :math:`1 - F(u)` at :math:`u`, and the interior by :func:`interval_rule`;
* ``pm.Truncated(dist, lower, upper)`` (and ``pm.TruncatedNormal``): :func:`interval_rule`
  divided by its mass;
* a mixture (``pm.Mixture``, the hurdle distributions ``pm.HurdleGamma``,
  ``pm.HurdleLogNormal``): each component's rule times its weight;
* ``pm.DiracDelta(c)``: the single node :math:`c` with weight 1.

:func:`interval_rule` integrates over :math:`(l, u)` on the probit scale,
:math:`\int_{z_l}^{z_u} g(F^{-1}(\Phi(z)))\,\varphi(z)\,dz` with
:math:`z_l = \Phi^{-1}(F(l))`, :math:`z_u = \Phi^{-1}(F(u))`, by Gauss–Legendre with
:data:`LEGENDRE_NODES` nodes, the limits clipped to :math:`\pm` :data:`PROBIT_LIMIT` (the
mass left beyond is :math:`\Phi(-8) = 6\times10^{-16}`). The integrand is smooth in
:math:`z` because the bounds are the limits of integration, not kinks inside it.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.censored import CensoredRV
from pymc.distributions.continuous import TruncatedNormalRV
from pymc.distributions.dist_math import normal_lccdf, normal_lcdf
from pymc.distributions.distribution import DiracDeltaRV
from pymc.distributions.mixture import _BaseMixtureRV
from pymc.distributions.truncated import TruncatedRV
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.random import basic as random_ops
from pytensor.tensor.variable import TensorConstant
from scipy import special

from pmfisher._core.model import labelled
from pmfisher.errors import UnsupportedModelError

__all__ = ["HERMITE_NODES", "LEGENDRE_NODES", "PROBIT_LIMIT", "continuous_rule", "log_density"]

#: Gauss–Hermite nodes on the probit scale for a continuous observation. Sixteen keep the
#: outermost node's tail probability at 1.4e-6, where quantile functions written through
#: ``erfinv(2p - 1)`` are still accurate (at twenty, PyMC's Beta quantile is not finite), and
#: reproduce the closed forms of the Normal, Gamma and Beta to 6e-10, relative
#: (``tests/information/test_quadrature_fisher.py``).
HERMITE_NODES = 16
#: Gauss–Legendre nodes over an interval of the probit scale (censored, truncated).
LEGENDRE_NODES = 64
#: The probit scale is integrated over at most [−8, 8]: Φ(−8) = 6.2e-16 of mass is left out.
PROBIT_LIMIT = 8.0

_SQRT2 = np.sqrt(2.0)
# An infinite bound, where a distribution function is evaluated.
FAR = np.float64(1e300)


def continuous_rule(rv, name: str) -> list[tuple[pt.TensorVariable, pt.TensorVariable]]:
    """The pieces ``(nodes, weights)``, each ``(K, *rv.shape)``, of the continuous
    distribution ``rv`` (a graph); ``name`` is the observed variable's, for errors."""
    op = rv.owner.op
    if isinstance(op, CensoredRV):
        base, lower, upper = rv.owner.inputs
        pieces = interval_rule(base, lower, upper, normalized=False, name=name)
        for bound, side in ((lower, -1.0), (upper, 1.0)):
            if not _infinite_constant(bound):
                pieces.append(_atom(base, bound, side))
        return pieces
    if isinstance(op, TruncatedNormalRV):
        mu, sigma, lower, upper = op.dist_params(rv.owner)
        base = pm.Normal.dist(mu, sigma, size=rv.shape)
        return interval_rule(base, lower, upper, normalized=True, name=name)
    if isinstance(op, TruncatedRV):
        *base_inputs, lower, upper = rv.owner.inputs
        base = op.base_rv_op.make_node(*base_inputs).default_output()
        return interval_rule(base, lower, upper, normalized=True, name=name)
    if isinstance(op, DiracDeltaRV):
        node = pt.broadcast_to(pt.cast(rv.owner.inputs[-1], "float64"), rv.shape)[None]
        return [(node, pt.ones_like(node))]
    if isinstance(op, _BaseMixtureRV) and len(rv.owner.inputs) > 3:
        _, weights, *components = rv.owner.inputs
        pieces = []
        for index, component in enumerate(components):
            share = pt.broadcast_to(weights[..., index], rv.shape)[None]
            for nodes, node_weights in continuous_rule(component, name):
                pieces.append((nodes, share * node_weights))
        return pieces
    return [_hermite_rule(rv, name)]


def interval_rule(base, lower, upper, *, normalized: bool, name: str):
    """``base``'s mass on ``(lower, upper)`` as one piece (see the module docstring); with
    ``normalized`` the weights are divided by their sum (a truncated distribution)."""
    shape = base.shape
    z_lower = pt.full(shape, -PROBIT_LIMIT)
    z_upper = pt.full(shape, PROBIT_LIMIT)
    if not _infinite_constant(lower):
        z_lower = pt.maximum(z_lower, _probit(base, lower))
    if not _infinite_constant(upper):
        z_upper = pt.minimum(z_upper, _probit(base, upper))
    t, w = special.roots_legendre(LEGENDRE_NODES)
    half = pt.maximum(z_upper - z_lower, 0.0)[None] / 2
    z = (z_upper + z_lower)[None] / 2 + half * pt.as_tensor(t).reshape((-1, *[1] * base.ndim))
    weights = half * pt.as_tensor(w).reshape((-1, *[1] * base.ndim))
    weights = weights * pt.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    probabilities = 0.5 * pt.erfc(-z / _SQRT2)
    nodes = _quantile(base, probabilities, name)
    if normalized:
        weights = weights / weights.sum(0)
    return [(pt.cast(nodes, "float64"), weights)]


def _hermite_rule(rv, name: str):
    z, w = special.roots_hermitenorm(HERMITE_NODES)
    trailing = [1] * rv.ndim
    probabilities = pt.as_tensor(special.ndtr(z)).reshape((-1, *trailing))
    probabilities = pt.broadcast_to(probabilities, (z.size, *[rv.shape[i] for i in range(rv.ndim)]))
    nodes = _quantile(rv, probabilities, name)
    weights = pt.broadcast_to(pt.as_tensor(w / w.sum()).reshape((-1, *trailing)), nodes.shape)
    return pt.cast(nodes, "float64"), weights


def _quantile(rv, probabilities, name: str):
    try:
        # ``rv`` is a graph of θ (its random inputs are clones of the model's, on purpose).
        return pm.icdf(rv, probabilities, warn_rvs=False)
    except NotImplementedError:
        raise UnsupportedModelError(
            f"the observed variable {name} ({labelled.distribution_name(rv)}) has no "
            "closed-form information and no quantile function (icdf) in PyMC, which the "
            "continuous quadrature needs; a continuous pm.CustomDist has one when it is "
            "given as dist= (a graph of PyMC distributions) rather than logp=, and "
            "method='monte_carlo' needs none."
        ) from None


def _atom(base, bound, side: float):
    """The point mass of a censored ``base`` at ``bound``, :math:`\\Phi(\\pm z)` with ``side``
    −1 (lower: F(l)) or +1 (upper: 1 − F(u)). An infinite bound in the data has no mass."""
    value = pt.broadcast_to(pt.cast(bound, "float64"), base.shape)
    finite = pt.isfinite(value)
    node = pt.switch(finite, value, 0.0)
    weight = pt.switch(finite, 0.5 * pt.erfc(side * _probit(base, node) / _SQRT2), 0.0)
    return node[None], weight[None]


def _probit(base, bound):
    """:math:`\\Phi^{-1}(F(b))`: the standardized bound of a Normal or LogNormal ``base``
    exactly (PyMC's normal log-CDF is accurate to about 1e-8), else through the log-CDF
    (below the median) or the log-survival (above it), each accurate in its own tail."""
    value = pt.broadcast_to(pt.cast(bound, "float64"), base.shape)
    op = base.owner.op
    if isinstance(op, random_ops.NormalRV | random_ops.LogNormalRV):
        mu, sigma = op.dist_params(base.owner)
        location = value if isinstance(op, random_ops.NormalRV) else pt.log(value)
        return (location - mu) / sigma
    finite = pt.switch(pt.isinf(value), pt.sign(value) * pt.constant(FAR, dtype="float64"), value)
    below = -_SQRT2 * pt.erfcinv(2 * pt.exp(pm.logcdf(base, finite, warn_rvs=False)))
    above = _SQRT2 * pt.erfcinv(2 * pt.exp(pm.logccdf(base, finite, warn_rvs=False)))
    return pt.switch(below < 0, below, above)


def _infinite_constant(bound) -> bool:
    """Whether ``bound`` is infinite, known statically (through casts and broadcasts)."""
    if isinstance(bound, TensorConstant):
        return bool(np.all(np.isinf(bound.data)))
    try:
        return bool(np.isinf(pt.get_underlying_scalar_constant_value(bound)))
    except NotScalarConstantError:
        return False


def log_density(rv, value):
    """``pm.logp(rv.ravel(), value)``, except for PyMC's ``TruncatedNormal`` with batched
    parameters and an infinite bound: PyMC keeps that bound (expanded to the batch shape,
    so it cannot see it is infinite) in its normalizing constant, whose gradient is NaN
    there; here the constant is the one-sided one PyMC uses for a constant bound."""
    op = rv.owner.op
    if isinstance(op, TruncatedNormalRV):
        params = op.dist_params(rv.owner)
        unbounded = [_infinite_constant(bound) for bound in params[2:]]
        if any(unbounded):
            mu, sigma, lower, upper = (pt.broadcast_to(p, rv.shape).ravel() for p in params)
            log_pdf = pm.logp(pm.Normal.dist(mu, sigma), value)
            if all(unbounded):
                return log_pdf
            if unbounded[1]:
                log_pdf = pt.switch(value < lower, -np.inf, log_pdf)
                return log_pdf - normal_lccdf(mu, sigma, lower)
            log_pdf = pt.switch(value > upper, -np.inf, log_pdf)
            return log_pdf - normal_lcdf(mu, sigma, upper)
    return pm.logp(rv.ravel(), value)
