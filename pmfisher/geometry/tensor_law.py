r"""The tensor law of the information under a change of coordinates.

Reparameterize :math:`\theta = \theta(\phi)` with Jacobian :math:`J = \partial\theta/\partial\phi`.
The score transforms by :math:`J^\top`, so the expected information transforms as a metric
tensor,

.. math::

    I_\phi = J^\top I_\theta\, J ,

while the observed information picks up a second term from the curvature of the map,

.. math::

    -\nabla^2_\phi \ell = J^\top\,(-\nabla^2_\theta \ell)\,J
    \;-\; \sum_k \frac{\partial \ell}{\partial \theta_k}\,\nabla^2_\phi \theta_k ,

which vanishes only where the gradient does (at the MLE). :func:`check_tensor_law` computes
both sides independently — the left in :math:`\phi` from the model written in :math:`\phi`,
the right from the model in :math:`\theta` and the exact Jacobian of the map — so that the
difference measures how well the two computations agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.gradient import jacobian

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph, model_graph, resolve_model
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent, refuse_sparse
from pmfisher._core.options import Information, Structure, check_option
from pmfisher._core.progress import progress_switch
from pmfisher.errors import ArgumentError
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.exact_fisher import exact_fisher_matrix
from pmfisher.information.observed import observed_information

__all__ = ["TensorLawCheck", "check_tensor_law"]


@dataclass(frozen=True)
class TensorLawCheck:
    r"""Both sides of :math:`I_\phi = J^\top I_\theta J` at one point.

    Attributes
    ----------
    direct : xarray.DataArray
        :math:`I_\phi`, computed in :math:`\phi` (dims ``param_i`` × ``param_j``, φ labels).
    pulled_back : xarray.DataArray
        :math:`J^\top I_\theta J`, minus ``gradient_term`` for the observed information.
    jacobian : xarray.DataArray
        :math:`J = \partial\theta/\partial\phi`, dims ``theta`` × ``phi``.
    gradient_term : xarray.DataArray
        :math:`\sum_k (\partial\ell/\partial\theta_k)\,\nabla^2_\phi\theta_k` for the observed
        information; zero for the expected information, which has no such term.
    max_error : float
        :math:`\max|{\rm direct} - {\rm pulled\_back}|` relative to the largest
        :math:`|{\rm direct}|` entry.
    information : str
        ``"expected"`` or ``"observed"``.
    """

    direct: xr.DataArray
    pulled_back: xr.DataArray
    jacobian: xr.DataArray
    gradient_term: xr.DataArray
    max_error: float
    information: str


@progress_switch
def check_tensor_law(
    point=None,
    *,
    model: pm.Model | None = None,
    reparameterized: pm.Model | None = None,
    mapping: Callable[[dict], Mapping] | None = None,
    information: Information = "expected",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> TensorLawCheck:
    r"""Check :math:`I_\phi = J^\top I_\theta J` for coordinates :math:`\phi \mapsto \theta`.

    Two kinds of reparameterization are checked:

    * with no ``reparameterized`` model, :math:`\theta` is the model's constrained space and
      :math:`\phi` its unconstrained space (PyMC's value variables, such as ``p_logodds__``),
      with :math:`J` the exact Jacobian of the model's own back-transforms;
    * with a ``reparameterized`` model (the same data distribution written in other
      parameters :math:`\phi`) and a ``mapping`` :math:`\phi \mapsto \theta`, :math:`J` is the
      exact Jacobian of the mapping, both sides in the two models' constrained spaces.

    Parameters
    ----------
    point : dict or Mode, optional
        A point of ``reparameterized`` when it is given, otherwise of ``model``
        (free-variable name → value, constrained space); ``None`` (the default) is that
        model's MLE at the current data.
    model : pm.Model, optional
        The model in :math:`\theta`; by default the one on PyMC's context stack.
    reparameterized : pm.Model, optional
        The model in :math:`\phi`.
    mapping : callable, optional
        Required with ``reparameterized``: takes a dict of the reparameterized model's free
        variable names → PyTensor tensors and returns a dict of ``model``'s free variable
        names → PyTensor expressions, e.g. ``lambda phi: {"p": pm.math.sigmoid(phi["eta"])}``.
    information : {"expected", "observed"}
        The exact expected (Fisher) information, or the observed information of the
        likelihood, for which the gradient term of the module docstring is included.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.
    structure : {"auto", "dense"}
        The result is dense: the check compares dense matrices entry by entry. ``"sparse"``
        raises an
        :class:`~pmfisher.errors.ArgumentError`.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    TensorLawCheck

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import check_tensor_law
    >>> with pm.Model() as model:
    ...     p = pm.Beta("p", 1.0, 1.0)
    ...     y = pm.Bernoulli("y", p=p, observed=[1, 0, 0, 1, 1])
    >>> check = check_tensor_law({"p": 0.3}, model=model, information="observed")
    >>> float(check.jacobian.values[0, 0])  # dp/dη = p (1 - p)
    0.21
    >>> check.max_error < 1e-12
    True
    """
    refuse_latent(latent, "check_tensor_law", NO_MARGINAL_FISHER)
    refuse_sparse(structure, "check_tensor_law", "the check compares dense matrices.")
    # The sandwich is a covariance, not an information: it has no tensor law of its own.
    check_option("information", information, ("expected", "observed"))
    model = resolve_model(model)
    theta_graph = model_graph(model, space="constrained", terms="likelihood")
    if reparameterized is None:
        if mapping is not None:
            raise ArgumentError(
                "mapping was given without a reparameterized model; pass reparameterized=, or "
                "drop mapping to check the model's own unconstrained space."
            )
        phi_graph = model_graph(model, space="unconstrained", terms="likelihood")
        coordinates = _own_transforms(phi_graph)
    else:
        if mapping is None:
            raise ArgumentError(
                "a reparameterized model needs mapping=, a function from its free variables "
                "(PyTensor tensors by name) to those of model."
            )
        phi_graph = model_graph(reparameterized, space="constrained", terms="likelihood")
        coordinates = _Coordinates(phi_graph, _mapped_theta(phi_graph, theta_graph, mapping))

    phi = point_on(phi_graph, point)
    theta = np.asarray(coordinates.theta_fn(phi))
    theta_point = theta_graph.constrained_point(theta)
    theta_graph.check_in_support(theta)
    jac = np.asarray(coordinates.jacobian_fn(phi))

    if information == "expected":
        direct = _expected(phi_graph, phi)
        theta_information = _expected(theta_graph, theta)
        gradient_term = np.zeros_like(direct)
    else:
        direct = _observed(phi_graph, point)
        theta_information = _observed(theta_graph, theta_point)
        _, gradient = theta_graph.logp_and_grad_fn(theta)
        gradient_term = np.asarray(coordinates.map_curvature_fn(phi, np.asarray(gradient)))
    pulled_back = jac.T @ theta_information @ jac - gradient_term

    scale = max(float(np.abs(direct).max()), np.finfo(float).tiny)
    labels = phi_graph.labels
    return TensorLawCheck(
        direct=labelled.square(direct, labels, name="direct", information=information),
        pulled_back=labelled.square(
            pulled_back, labels, name="pulled_back", information=information
        ),
        jacobian=xr.DataArray(
            jac,
            dims=("theta", "phi"),
            coords={"theta": list(theta_graph.labels), "phi": list(labels)},
            name="jacobian",
        ),
        gradient_term=labelled.square(gradient_term, labels, name="gradient_term"),
        max_error=float(np.abs(direct - pulled_back).max() / scale),
        information=information,
    )


class _Coordinates:
    r"""A map :math:`\phi \mapsto \theta` as a graph of the flat ``phi`` of a graph, and its
    exact first and second derivatives."""

    def __init__(self, phi_graph: ModelGraph, theta_of_phi):
        self.phi = phi_graph.theta
        self.theta_of_phi = theta_of_phi

    @functools.cached_property
    def theta_fn(self):
        return compile_function([self.phi], self.theta_of_phi)

    @functools.cached_property
    def jacobian_fn(self):
        return compile_function([self.phi], jacobian(self.theta_of_phi, self.phi))

    @functools.cached_property
    def map_curvature_fn(self):
        r""":math:`\sum_k g_k \nabla^2_\phi \theta_k` for a given vector :math:`g`: the Hessian
        of the scalar :math:`g^\top\theta(\phi)`."""
        weights = pt.vector("weights", dtype="float64")
        curvature = derivatives.hessian(pt.dot(weights, self.theta_of_phi), self.phi)
        return compile_function([self.phi, weights], curvature)


def _own_transforms(phi_graph: ModelGraph) -> _Coordinates:
    """The model's own back-transforms, built once per unconstrained graph."""
    return phi_graph.companion(_model_coordinates)


def _model_coordinates(phi_graph: ModelGraph) -> _Coordinates:
    return _Coordinates(phi_graph, phi_graph.constrained)


def _mapped_theta(phi_graph: ModelGraph, theta_graph: ModelGraph, mapping) -> pt.TensorVariable:
    """The flat θ of ``theta_graph`` as a graph of the flat φ of ``phi_graph``."""
    values = zip(phi_graph.free_rvs, phi_graph.point_values, strict=True)
    phi = {rv.name: value for rv, value in values}
    mapped = mapping(phi)
    if not isinstance(mapped, Mapping):
        raise ArgumentError(
            f"mapping must return a dict of free-variable names → tensors, got "
            f"{type(mapped).__name__}."
        )
    wanted = [block.rv_name for block in theta_graph.blocks]
    missing = [name for name in wanted if name not in mapped]
    extra = [name for name in mapped if name not in wanted]
    if missing or extra:
        raise ArgumentError(
            "mapping must return exactly the free variables of model "
            f"({', '.join(wanted)}); "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(extra)}" if extra else "",
                )
                if part
            )
            + "."
        )
    # A simplex or zero-sum variable is mapped whole and enters θ by its free coordinates.
    parts = []
    for block in theta_graph.blocks:
        value = pt.broadcast_to(
            pt.cast(pt.as_tensor(mapped[block.rv_name]), "float64"), block.point_shape
        )
        if block.coordinates is not None:
            value = value[block.coordinates.index]
        parts.append(value.ravel())
    return pt.concatenate(parts)


def _expected(graph: ModelGraph, x: np.ndarray) -> np.ndarray:
    return exact_fisher_matrix(graph, x)


def _observed(graph: ModelGraph, point) -> np.ndarray:
    return observed_information(
        point, model=graph.model, space=graph.space, structure="dense"
    ).values
