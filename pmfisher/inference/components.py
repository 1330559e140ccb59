"""lme4's reading of a model with latent effects: which of the remaining parameters are
fixed effects and which are variance components, and the latent effects' conditional modes
with their conditional standard errors (``ranef(condVar=TRUE)``)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.basic import NormalRV

from pmfisher._core.linalg.sparse_cholesky import SparsePositiveDefinite
from pmfisher.fitting.laplace_marginal import LaplaceMarginal

__all__ = ["DERIVED", "FIXED", "VARIANCE", "conditional_modes", "parameter_roles"]

FIXED, VARIANCE, DERIVED = "fixed effect", "variance component", "derived"


def parameter_roles(marginal: LaplaceMarginal) -> dict[str, str]:
    """Free variable name → ``"variance component"`` or ``"fixed effect"`` for the variables
    that remain after the latent ones are integrated out.

    A variance component enters a latent variable's distribution through a parameter other
    than its first (the location of ``Normal``, ``MvNormal``): its scale, its covariance or
    its Cholesky factor — or it is the standard deviation of a ``Normal`` response (lme4's
    residual). Everything else is a fixed effect — a mean of the latent effects included, as
    lme4 counts it."""
    model = marginal.model
    latent_rvs = [rv for rv in model.free_RVs if rv.name in marginal.split.latent]
    scale_ancestors = set()
    for rv in latent_rvs:
        params = rv.owner.op.dist_params(rv.owner)
        scale_ancestors |= set(ancestors(params[1:]))
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
