r"""The target density of a call, built from its options, and its curvature.

Every public function is about one density (:mod:`pmfisher._core.model.target`): the model's
log-likelihood or log-posterior in a space, as a
:class:`~pmfisher._core.model.model_graph.ModelGraph`, or, with latent variables integrated
out, its Laplace marginal (:class:`~pmfisher.fitting.laplace_marginal.LaplaceMarginal`).
:func:`target_density` builds the one the options name, so that no public function forks on
``latent`` itself; :func:`negative_hessian` gives :math:`-\nabla^2 \log p` by the route
:func:`hessian_route` chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pymc as pm

from pmfisher._core.compiled.compilation import few_calls_backend
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.curvature.structure import hessian_structure
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import TargetDensity
from pmfisher._core.options import Space, Structure, Terms
from pmfisher.fitting.laplace_marginal import laplace_marginal

__all__ = ["hessian_route", "negative_hessian", "target_density"]


def target_density(
    model: pm.Model | None,
    *,
    terms: Terms,
    space: Space,
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    jacobian: bool | None = None,
) -> TargetDensity:
    """The density of ``terms`` in ``space`` with ``latent`` integrated out (none: the model's
    graph), built once per model and options; ``structure`` chooses the route of a Laplace
    marginal's latent Hessian, ``jacobian`` as in :func:`model_graph`."""
    if latent is not None:
        return laplace_marginal(
            model, latent, space=space, terms=terms, jacobian=jacobian, structure=structure
        )
    return model_graph(model, space=space, terms=terms, jacobian=jacobian)


def hessian_route(target: TargetDensity, structure: Structure) -> Literal["dense", "sparse"]:
    """The route of the target's Hessian: a Laplace marginal's, over the few variables left,
    is dense; a graph's follows the ``structure`` rule
    (:func:`~pmfisher._core.curvature.structure.hessian_structure`)."""
    if target.latent:
        return "dense"
    return hessian_structure(target, structure)


def negative_hessian(target: TargetDensity, x: np.ndarray, route: Literal["dense", "sparse"]):
    r""":math:`-\nabla^2 \log p(x)`: a NumPy array on the dense route, a SciPy sparse matrix
    (one Hessian-vector product per colour of its pattern) on the sparse one. A Laplace
    marginal whose inner problem has no mode at ``x`` raises, saying why."""
    if target.latent:
        return -target.hessian(x)
    if route == "sparse":
        hessian = target.companion(SparseHessian)(x, backend=few_calls_backend(target.size))
        hessian.data *= -1  # in place: a negated copy would check the whole pattern again
        return hessian
    return -np.asarray(target.hessian_fn(x))
