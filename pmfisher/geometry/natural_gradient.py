r"""The natural gradient: the score measured in the Fisher metric.

The ordinary gradient :math:`\nabla\ell` depends on the coordinates: under
:math:`\theta = \theta(\phi)` it becomes :math:`J^\top\nabla_\theta\ell`. The natural gradient
:math:`\tilde\nabla\ell = I^{-1}\nabla\ell` does not: with the tensor law
:math:`I_\phi = J^\top I_\theta J`,

.. math::

    I_\phi^{-1}\nabla_\phi\ell = J^{-1} I_\theta^{-1} J^{-\top} J^\top \nabla_\theta\ell
    = J^{-1}\,\big(I_\theta^{-1}\nabla_\theta\ell\big),

so a natural-gradient step :math:`\delta\phi` moves the distribution exactly as the step
:math:`\delta\theta = J\,\delta\phi` does in the other coordinates (to first order): it is the
steepest ascent of :math:`\ell` per unit of KL divergence rather than per unit of parameter
distance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import xarray as xr
from scipy import linalg

from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher._core.linalg.sparse_cholesky import sparse_positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent
from pmfisher._core.options import Method, Space, Structure
from pmfisher._core.progress import progress_switch
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.fisher import fisher_information

__all__ = ["natural_gradient"]


@progress_switch
def natural_gradient(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    method: Method = "auto",
    replicates: int = 1000,
    random_seed=None,
    progressbar: bool = True,
) -> xr.DataArray:
    r"""The natural gradient :math:`I(\theta)^{-1}\nabla_\theta\ell(\theta)` of the log-likelihood.

    :math:`I` is the expected (Fisher) information of :func:`pmfisher.fisher_information`
    (``method="auto"``: exact where the model's distributions allow; ``attrs["method"]``
    says which; on its sparse route the system is solved with a sparse Cholesky factor)
    and :math:`\nabla\ell` the exact gradient of the log-likelihood, both in ``space``.
    For a Gaussian likelihood with known variance, a step along it is a Gauss–Newton step;
    in general it is Fisher scoring.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data, where the natural gradient vanishes.
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    space : {"constrained", "unconstrained"}
    method : {"auto", "exact", "monte_carlo"}
        How the expected information is computed (:func:`pmfisher.fisher_information`).
    replicates : int
        Simulated data sets, where it is computed by Monte Carlo.
    structure : {"auto", "dense", "sparse"}
        The route of the information; on the sparse one the system is solved with a sparse
        Cholesky factor.
    random_seed : int, numpy.random.SeedSequence, optional
        Seeds the Monte Carlo information (``method="auto"`` falls back to it where no exact
        form exists): the same seed gives the same numbers.
    progressbar : bool
        Show the progress of long work, as PyMC does.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.

    Returns
    -------
    xarray.DataArray
        Dim ``param``; ``attrs`` record ``space`` and the Fisher ``method``.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import natural_gradient
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> # Fisher scoring on a Poisson mean jumps to the MLE: (λ/n)(Σy/λ − n) = ȳ − λ
    >>> round(float(natural_gradient({"lam": 1.0}, model=model).values[0]), 12)
    2.0
    """
    refuse_latent(latent, "natural_gradient", NO_MARGINAL_FISHER)
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    _, gradient = graph.logp_and_grad_fn(x)
    information = fisher_information(
        graph.constrained_point(x),
        model=graph.model,
        space=space,
        method=method,
        replicates=replicates,
        structure=structure,
        random_seed=random_seed,
        progressbar=progressbar,
    )
    if labelled.is_sparse(information.matrix):
        # A sparse Cholesky factor: no d × d array on the way.
        factor = sparse_positive_definite(
            information.matrix.data.tocsc(), graph.labels, what="Fisher information"
        )
        step = factor.solve(np.asarray(gradient))
    else:
        checked = positive_definite(
            information.matrix.values, graph.labels, what="Fisher information"
        )
        step = linalg.cho_solve((checked.cholesky, True), np.asarray(gradient))
    return labelled.vector(
        step, graph.labels, name="natural_gradient", space=space, method=information.method
    )
