"""Observed information: the negative Hessian of the log-density at a point."""

from __future__ import annotations

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core import labelled
from pmfisher._core.model_graph import model_graph
from pmfisher._core.options import Space, Terms
from pmfisher.errors import PMFisherError
from pmfisher.fitting.mode import find_mode, require_converged

__all__ = ["observed_information"]


def observed_information(
    point=None,
    *,
    model: pm.Model | None = None,
    terms: Terms = "likelihood",
    space: Space = "constrained",
) -> xr.DataArray:
    r"""Observed information :math:`J_n(\theta) = -\nabla^2_\theta \ell_n(\theta)`.

    :math:`\ell_n` is the log-likelihood of all observed variables (``terms="likelihood"``)
    or the log-posterior (``terms="posterior"``, including the log-Jacobian of the
    transforms in the unconstrained space), differentiated exactly in ``space``.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` finds the mode of
        ``terms`` in ``space`` first (the MLE, or the MAP of that space).
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    terms : {"likelihood", "posterior"}
    space : {"constrained", "unconstrained"}
        A simplex of :math:`K` entries (``pm.Dirichlet``) enters the constrained space by its
        first :math:`K - 1` entries, a zero-sum vector (``pm.ZeroSumNormal``) by the first
        :math:`n - 1` along each zero-sum axis, the last entry implied by the constraint;
        their labels keep the entries' own indices (``p[0]``, ``p[1]`` of a 3-simplex).

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j`` labelled like ``"beta[x3]"``; ``attrs`` record
        ``terms`` and ``space``.

    Notes
    -----
    For a reparameterization :math:`\theta = \theta(\phi)` with Jacobian
    :math:`J = \partial\theta/\partial\phi`, the chain rule gives

    .. math::

        -\nabla^2_\phi \ell = J^\top\,(-\nabla^2_\theta \ell)\,J
        \;-\; \sum_k \frac{\partial \ell}{\partial \theta_k}\,\nabla^2_\phi \theta_k ,

    so the observed information transforms as a tensor only where the gradient vanishes —
    at the mode of the density being differentiated. Away from it (and for the posterior,
    whose unconstrained mode differs from its constrained one) the two spaces' matrices
    are not related by :math:`J^\top(\cdot)J` alone.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pmfisher
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> info = pmfisher.observed_information(model=model)  # at the MLE, λ̂ = 3
    >>> float(info.sel(param_i="lam", param_j="lam"))      # n / λ̂ = 3 / 3
    1.0
    """
    graph = model_graph(model, space=space, terms=terms)
    if point is None:
        point = require_converged(find_mode(model=graph.model, terms=terms, space=space))
    x = graph.flatten(point)
    graph.check_in_support(x)
    information = -np.asarray(graph.hessian_fn(x))
    _require_finite(information, graph.labels)
    return labelled.square(
        information, graph.labels, name="observed_information", terms=terms, space=space
    )


def _require_finite(matrix: np.ndarray, labels) -> None:
    bad = ~np.isfinite(matrix)
    if bad.any():
        names = [label for label, row in zip(labels, bad, strict=True) if row.any()]
        raise PMFisherError(
            f"the Hessian has non-finite entries in the rows of {', '.join(names)} at this "
            "point; the density is not twice differentiable there."
        )
