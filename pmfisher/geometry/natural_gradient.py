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

import numpy as np
import pymc as pm
import xarray as xr
from scipy import linalg

from pmfisher._core import labelled
from pmfisher._core.definiteness import positive_definite
from pmfisher._core.model_graph import model_graph
from pmfisher._core.options import Space
from pmfisher._core.sparse_cholesky import sparse_positive_definite
from pmfisher.information.fisher import fisher_information

__all__ = ["natural_gradient"]


def natural_gradient(
    point, *, model: pm.Model | None = None, space: Space = "constrained"
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
    point : dict or Mode
        Free-variable name → value in the constrained space.
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    space : {"constrained", "unconstrained"}

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
    graph = model_graph(model, space=space, terms="likelihood")
    x = graph.flatten(point)
    graph.check_in_support(x)
    _, gradient = graph.logp_and_grad_fn(x)
    information = fisher_information(point, model=graph.model, space=space)
    if information.matrix.attrs["structure"] == "sparse":
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
