"""Observed information: the negative Hessian of the log-density at a point."""

from __future__ import annotations

from collections.abc import Sequence

import pymc as pm
import xarray as xr

from pmfisher._core.linalg.definiteness import flat_directions, require_finite
from pmfisher._core.model import labelled
from pmfisher._core.options import Space, Structure, Terms
from pmfisher._core.progress import progress_switch
from pmfisher.errors import warn
from pmfisher.fitting.mode_cache import point_on
from pmfisher.fitting.target_density import hessian_route, negative_hessian, target_density

__all__ = ["observed_information"]


@progress_switch
def observed_information(
    point=None,
    *,
    model: pm.Model | None = None,
    terms: Terms = "likelihood",
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
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
    structure : {"auto", "dense", "sparse"}
        ``"sparse"`` reads the Hessian's sparsity pattern from the model's graph and recovers
        the matrix exactly from one Hessian-vector product per star colour (four for a
        hierarchical model, whatever its number of groups); ``"dense"`` differentiates in all
        ``d`` directions at once and raises ``InsufficientMemoryError`` if that would not fit
        in memory; ``"auto"`` takes the sparse route when the pattern makes it cheaper or the
        dense one would not fit.
    latent : list of str, optional
        Free variables integrated out by a Laplace approximation at their conditional mode:
        the matrix is then :math:`-\nabla^2 L(\varphi)` of the Laplace marginal over the
        remaining variables :math:`\varphi` only (:mod:`pmfisher.fitting.laplace_marginal`),
        exact to the fourth derivatives of the log-density — the standard errors of fixed
        effects and variance components that lme4, glmmTMB and TMB's ``sdreport`` report.
        ``point=None`` then means the marginal mode. The marginal's Hessian is dense.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j`` labelled like ``"beta[x3]"``; ``attrs`` record
        ``terms``, ``space``, ``structure`` (the route taken) and, with it, ``latent``. It is
        dense (``.values`` is a NumPy array) whichever route computed it, unless
        ``structure="sparse"`` asked for a sparse result or the dense one would exceed
        256 MiB (:data:`~pmfisher._core.model.labelled.DENSE_RESULT_BYTES`, about 5,800
        parameters): then it is backed by a pydata ``sparse.COO`` array and
        ``info.data.tocsc()`` is the SciPy matrix for sparse linear algebra.

    Warns
    -----
    UserWarning
        When the matrix is singular (a curvature below ``√ε`` of the largest), naming the
        parameters along its null directions.

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
    target = target_density(model, terms=terms, space=space, latent=latent, structure=structure)
    x = point_on(target, point, structure=structure)
    route = hessian_route(target, structure)
    information = negative_hessian(target, x, route)
    require_finite(information, target.labels, "the Hessian at this point")
    attrs = {"terms": terms, "space": space, "structure": route}
    if target.latent:
        attrs["latent"] = list(target.latent)
    if route == "sparse":
        return labelled.sparse_square(
            information,
            target.labels,
            name="observed_information",
            requested=structure,
            **attrs,
        )
    flat = flat_directions(information, target.labels)
    if flat:
        warn(
            f"the observed information is singular at this point ({space} space): {flat}. "
            "It has no inverse; these combinations of parameters are not identified here.",
        )
    return labelled.square(information, target.labels, name="observed_information", **attrs)
