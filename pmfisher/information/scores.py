"""Per-observation scores and the empirical Fisher information (outer product of gradients)."""

from __future__ import annotations

from collections.abc import Sequence

import pymc as pm
import xarray as xr

from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import NO_MARGINAL_SCORES, refuse_latent, refuse_sparse
from pmfisher._core.options import Space, Structure
from pmfisher._core.progress import progress_switch
from pmfisher.fitting.mode_cache import point_on

__all__ = ["empirical_fisher", "scores"]


@progress_switch
def scores(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    progressbar: bool = True,
) -> xr.DataArray:
    r"""The observation × parameter matrix of per-observation scores.

    .. math::

        S_{ij} = \frac{\partial \ell_i(\theta)}{\partial \theta_j},
        \qquad \sum_i S_{ij} = \frac{\partial \ell(\theta)}{\partial \theta_j},

    with :math:`\ell_i` the log-likelihood of observation :math:`i` (an element of an
    observed variable, or a row of a multivariate one). Computed by forward-mode autodiff,
    one pass per block of parameter directions, with the blocks sized so that no
    intermediate array exceeds a fixed budget: :math:`10^5` observations × 20 parameters
    need little beyond the 16 MB of the result.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
    space : {"constrained", "unconstrained"}
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataArray
        Dims ``observation`` × ``param``, labelled like ``"y[3]"`` and ``"beta[x1]"``.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import scores, empirical_fisher
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> scores({"lam": 2.0}, model=model).values.ravel()  # y / λ - 1
    array([0. , 1. , 0.5])
    """
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    matrix = data_likelihood(graph.model, space=space).observed_scores(x)
    return xr.DataArray(
        matrix,
        dims=("observation", "param"),
        coords={"observation": list(graph.observation_labels), "param": list(graph.labels)},
        name="scores",
        attrs={"space": space},
    )


@progress_switch
def empirical_fisher(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> xr.DataArray:
    r"""The empirical Fisher information (outer product of gradients),
    :math:`K = \sum_i s_i s_i^\top = S^\top S`.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
    space : {"constrained", "unconstrained"}
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the Laplace marginal does not split into
        per-observation terms, so it has no per-observation scores.
    structure : {"auto", "dense"}
        The result is dense: SᵀS of the dense per-observation scores. ``"sparse"`` raises an
        :class:`~pmfisher.errors.ArgumentError`.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j``.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import scores, empirical_fisher
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> float(empirical_fisher({"lam": 2.0}, model=model).squeeze())  # 0 + 1 + 0.25
    1.25
    """
    refuse_latent(latent, "empirical_fisher", NO_MARGINAL_SCORES)
    refuse_sparse(structure, "empirical_fisher", "SᵀS of the per-observation scores is dense.")
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    matrix = data_likelihood(graph.model, space=space).observed_scores(x)
    return labelled.square(matrix.T @ matrix, graph.labels, name="empirical_fisher", space=space)
