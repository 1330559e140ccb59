r"""The Hessian of a negative log-likelihood split into its Gauss–Newton and residual parts.

Write observation :math:`i`'s distribution parameters as :math:`\eta_i(\theta)` (for a
regression, its mean :math:`f_\theta(x_i)`), with Jacobian :math:`J_i` and the distribution's
own Fisher information :math:`F_i`. The chain rule splits the Hessian of the loss
:math:`L = -\ell` in two:

.. math::

    \nabla^2 L = \underbrace{\sum_i J_i^\top F_i J_i}_{\text{Gauss–Newton / Fisher}}
    \;+\; \underbrace{\Big(\nabla^2 L - \sum_i J_i^\top F_i J_i\Big)}_{\text{residual}} .

The first part is the generalized Gauss–Newton matrix, equal to the expected information
:math:`I(\theta)`: positive semidefinite and made of first derivatives of the model only. The
second is a sum of terms weighted by the score of each observation in its own parameters
(for a Gaussian, :math:`-\sigma^{-2}\sum_i r_i\nabla^2 f_i` with residuals
:math:`r_i = y_i - f_\theta(x_i)`), which has mean zero under the model: it vanishes for a
model linear in its natural parameters (logistic regression) and shrinks, relative to the
whole, as a fit approaches the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent, refuse_sparse
from pmfisher._core.options import Space, Structure
from pmfisher._core.progress import progress_switch
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.exact_fisher import exact_fisher_matrix
from pmfisher.information.observed import observed_information

__all__ = ["GaussNewtonSplit", "gauss_newton"]


@dataclass(frozen=True)
class GaussNewtonSplit:
    r""":math:`\nabla^2 L = G + R` at one point, for the loss :math:`L = -\ell`.

    Attributes
    ----------
    hessian : xarray.DataArray
        :math:`\nabla^2 L = -\nabla^2\ell`, the observed information of the likelihood.
    gauss_newton : xarray.DataArray
        :math:`G = \sum_i J_i^\top F_i J_i`, the exact Fisher information.
    residual : xarray.DataArray
        :math:`R = \nabla^2 L - G`.
    relative_gap : float
        :math:`\|R\|_F / \|\nabla^2 L\|_F`.
    """

    hessian: xr.DataArray
    gauss_newton: xr.DataArray
    residual: xr.DataArray
    relative_gap: float


@progress_switch
def gauss_newton(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> GaussNewtonSplit:
    r"""Split the loss Hessian :math:`-\nabla^2\ell` into Gauss–Newton and residual parts.

    The Gauss–Newton part is the exact Fisher information of
    :func:`pmfisher.fisher_information` (``method="exact"``), so every observed distribution
    must be in its closed-form table (an unsupported one is named in the error). Both parts
    are in ``space``; the Gauss–Newton part transforms as a tensor between spaces, the
    Hessian (and so the residual) only at the MLE.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    space : {"constrained", "unconstrained"}
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.
    structure : {"auto", "dense"}
        The result is dense: the split compares dense matrices entry by entry. ``"sparse"``
        raises an
        :class:`~pmfisher.errors.ArgumentError`.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    GaussNewtonSplit

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import gauss_newton
    >>> x, y = np.array([0.5, 1.0, 2.0]), np.array([0.4, 0.7, 0.8])
    >>> with pm.Model() as model:
    ...     rate = pm.HalfNormal("rate", 5.0)
    ...     y_obs = pm.Normal("y", 1 - pm.math.exp(-rate * x), 0.1, observed=y)
    >>> split = gauss_newton({"rate": 1.0}, model=model)
    >>> slope = x * np.exp(-x)  # ∂f/∂rate; G = Σ (∂f/∂rate)² / σ²
    >>> bool(np.isclose(split.gauss_newton.values[0, 0], (slope**2).sum() / 0.01, rtol=1e-12))
    True
    """
    refuse_latent(latent, "gauss_newton", NO_MARGINAL_FISHER)
    refuse_sparse(structure, "gauss_newton", "the split compares dense matrices.")
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    hessian = observed_information(
        graph.constrained_point(x), model=graph.model, space=space, structure="dense"
    )
    fisher = exact_fisher_matrix(graph, x)
    residual = hessian.values - fisher
    scale = np.linalg.norm(hessian.values)
    return GaussNewtonSplit(
        hessian=labelled.square(hessian.values, graph.labels, name="hessian", space=space),
        gauss_newton=labelled.square(fisher, graph.labels, name="gauss_newton", space=space),
        residual=labelled.square(residual, graph.labels, name="residual", space=space),
        relative_gap=_relative(np.linalg.norm(residual), scale),
    )


def _relative(size: float, scale: float) -> float:
    """``size / scale``, with 0/0 read as no gap (both parts vanish) and x/0 as infinite."""
    if scale > 0:
        return float(size / scale)
    return float(np.inf) if size > 0 else 0.0
