"""lme4's reading of a model with latent effects: which of the remaining parameters are
fixed effects and which are variance components, and the latent effects' conditional modes
with their conditional standard errors (``ranef(condVar=TRUE)``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.distributions.multivariate import ZeroSumNormalRV, _LKJCholeskyCovRV
from pytensor.gradient import jacobian
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.basic import NormalRV, StudentTRV

from pmfisher._core.compiled.compilation import CompiledFunction, compile_function
from pmfisher._core.linalg.sparse_cholesky import SparsePositiveDefinite
from pmfisher.fitting.laplace_marginal import LaplaceMarginal

__all__ = [
    "DERIVED",
    "FIXED",
    "VARIANCE",
    "NaturalScale",
    "conditional_modes",
    "natural_scales",
    "parameter_roles",
]

FIXED, VARIANCE, DERIVED = "fixed effect", "variance component", "derived"

# The position of the location among a latent distribution's parameters where it is not the
# first (None: the distribution has none, its mean is 0). Every other parameter shapes the
# effects' spread.
_LOCATION = {StudentTRV: 1, ZeroSumNormalRV: None}


def parameter_roles(marginal: LaplaceMarginal) -> dict[str, str]:
    """Free variable name → ``"variance component"`` or ``"fixed effect"`` for the variables
    that remain after the latent ones are integrated out.

    A variance component enters a latent variable's distribution through a parameter other
    than its location (the first of ``Normal`` and ``MvNormal``, the second of ``StudentT``;
    ``ZeroSumNormal`` has none): its scale, its covariance or its Cholesky factor — or it is
    the standard deviation of a ``Normal`` response (lme4's residual). Everything else is a
    fixed effect — a mean of the latent effects included, as lme4 counts it."""
    model = marginal.model
    latent_rvs = [rv for rv in model.free_RVs if rv.name in marginal.split.latent]
    scale_ancestors = set()
    for rv in latent_rvs:
        params = rv.owner.op.dist_params(rv.owner)
        location = _LOCATION.get(type(rv.owner.op), 0)
        spread = [param for i, param in enumerate(params) if i != location]
        scale_ancestors |= set(ancestors(spread))
    for rv in model.observed_RVs:
        if isinstance(rv.owner.op, NormalRV):
            scale_ancestors |= set(ancestors([rv.owner.op.dist_params(rv.owner)[1]]))
    return {rv.name: VARIANCE if rv in scale_ancestors else FIXED for rv in marginal.free_rvs}


def conditional_modes(marginal: LaplaceMarginal, phi: np.ndarray) -> xr.Dataset:
    r"""The latent effects' conditional modes :math:`\hat u_{\hat\varphi}` and conditional
    standard errors :math:`\sqrt{\operatorname{diag} H^{-1}}`, :math:`H = -\nabla^2_{uu}
    f(\hat u, \hat\varphi)` — the latent block of the joint negative Hessian, inverted
    alone (lme4's ``ranef(condVar=TRUE)``: the uncertainty of :math:`u` given the data at
    :math:`\hat\varphi`, not including that of :math:`\hat\varphi`).

    Over the dim ``effect``, in the latent variables' unconstrained coordinates (their own
    values for the usual Gaussian effects; a transformed latent variable is labelled by its
    value variable, ``rate_log__``)."""
    inner = marginal.conditional_mode(phi)
    precision = inner.precision
    if isinstance(precision, SparsePositiveDefinite):
        variances = precision.inverse_diagonal()
    elif np.ndim(precision.matrix) == 1:  # the diagonal route holds H's diagonal
        variances = 1.0 / precision.matrix
    else:
        variances = np.diag(precision.inverse())
    labels = list(marginal.split.u_labels)
    return xr.Dataset(
        {
            "mode": ("effect", np.asarray(inner.u, dtype="float64")),
            "se": ("effect", np.sqrt(np.asarray(variances, dtype="float64"))),
        },
        coords={"effect": labels},
        attrs={"latent": list(marginal.split.latent)},
    )


@dataclass(frozen=True)
class NaturalScale:
    """A covariance's packed Cholesky factor read on lme4's scale: the rows ``rows`` of a
    summary (the factor's entries) give way to ``labels`` (standard deviations, then the
    correlations above the diagonal) with their ``estimates`` and ``errors``."""

    rows: np.ndarray
    labels: list[str]
    estimates: np.ndarray
    errors: np.ndarray


def natural_scales(marginal: LaplaceMarginal, blocks, estimates, covariance) -> list[NaturalScale]:
    r"""The standard deviations :math:`\sigma_i = \sqrt{\Sigma_{ii}}` and correlations
    :math:`\rho_{ij} = \Sigma_{ij}/(\sigma_i\sigma_j)`, :math:`\Sigma = LL^\top`, of every
    ``LKJCholeskyCov`` among the variance components, with delta-method standard errors
    :math:`\sqrt{g^\top C g}` from the covariance ``C`` of its packed factor :math:`L`
    (``g`` by exact autodiff through PyMC's own ``helper_deterministics``).

    Labels follow PyMC's ``compute_corr=True`` names, ``chol_stds[int]`` and
    ``chol_corr[int, slope]``, with the coordinates of the last dim of the latent variable
    the factor belongs to (its effects), or positions."""
    found = []
    for block in blocks:
        rv = marginal.model[block.rv_name]
        if not isinstance(rv.owner.op, _LKJCholeskyCovRV):
            continue
        size = block.stop - block.start
        n = round((np.sqrt(8 * size + 1) - 1) / 2)
        values, jacobian = _stds_and_correlations(n)(estimates[block.start : block.stop])
        local = covariance[block.start : block.stop, block.start : block.stop]
        errors = np.sqrt(np.einsum("ij,jk,ik->i", jacobian, local, jacobian))
        effects = _effect_names(marginal, rv, n)
        pairs = list(zip(*np.triu_indices(n, k=1), strict=True))
        labels = [f"{rv.name}_stds[{effect}]" for effect in effects] + [
            f"{rv.name}_corr[{effects[i]}, {effects[j]}]" for i, j in pairs
        ]
        found.append(NaturalScale(np.arange(block.start, block.stop), labels, values, errors))
    return found


@cache
def _stds_and_correlations(n: int) -> CompiledFunction:
    packed = pt.vector("packed", dtype="float64")
    _, correlations, stds = pm.LKJCholeskyCov.helper_deterministics(n, packed)
    upper = np.triu_indices(n, k=1)
    natural = pt.concatenate([stds, correlations[upper]])
    return compile_function([packed], [natural, jacobian(natural, packed)], backend="python")


def _effect_names(marginal: LaplaceMarginal, factor, n: int) -> list[str]:
    """The coordinates of the last dim of the latent variable whose covariance ``factor``
    builds, when it has them; else ``0 … n-1``."""
    model = marginal.model
    for rv in model.free_RVs:
        reads = ancestors(rv.owner.op.dist_params(rv.owner))
        if rv.name in marginal.split.latent and factor in reads:
            dims = model.named_vars_to_dims.get(rv.name) or ()
            if dims and len(model.coords.get(dims[-1]) or ()) == n:
                return [str(value) for value in model.coords[dims[-1]]]
    return [str(k) for k in range(n)]
