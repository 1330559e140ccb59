"""The graph layer: a PyMC model seen as a function of one flat parameter vector.

A :class:`ModelGraph` is built once per ``(model, space, terms)`` and cached on the model
(:func:`model_graph`). It owns

* the flat parameter vector ``theta`` of the chosen space and its layout (:class:`Block`),
* the log-density of the chosen terms as a scalar graph of ``theta``,
* one label per observation (the per-observation terms are :mod:`.data_likelihood`'s),
* the observed data as replaceable inputs (``data_inputs``),
* graphs mapping ``theta`` to the other space,

and compiles each function it is asked for once, on first use. Everything here works on flat
NumPy arrays; labelling into xarray happens at the public edge.

Where a transform changes the dimension (a simplex of K entries has K - 1 free coordinates, a
zero-sum vector n - 1), the constrained space uses the free coordinates: the first K - 1
probabilities of a simplex, the first n - 1 entries along each zero-sum axis, the last entry
implied by the constraint (:mod:`pmfisher._core.model.free_coordinates`). Their labels keep the
entries' own indices (``p[0]``, ``p[1]`` of a 3-simplex, ``p[2]`` implied). Points, given or
returned (:meth:`ModelGraph.flatten`, :meth:`ModelGraph.constrained_point`), always hold all
entries; a given point must satisfy the constraint.

What each set of terms holds, and what a model must offer: :mod:`.model_checks`.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.logprob.utils import replace_rvs_by_values
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant
from pytensor.graph.replace import graph_replace
from pytensor.graph.utils import MethodNotDefined

from pmfisher._core.compiled.compilation import compile_derived, compile_function, few_calls_backend
from pmfisher._core.compiled.rewrites import logp_terms
from pmfisher._core.curvature import derivatives
from pmfisher._core.model import labelled, model_checks, points
from pmfisher._core.model.free_coordinates import FreeCoordinates, free_coordinates
from pmfisher._core.model.labelled import element_labels
from pmfisher._core.model.model_signature import model_signature
from pmfisher._core.options import Space, Terms, check_option
from pmfisher.errors import ArgumentError, UnsupportedModelError

__all__ = ["Block", "ModelGraph", "model_graph", "resolve_model"]

T = TypeVar("T")


@dataclass(frozen=True)
class Block:
    """Where one free variable lives in the flat parameter vector.

    ``name`` is the variable's name in the graph's space (``sigma`` or ``sigma_log__``),
    ``rv_name`` the free random variable's name, ``shape`` its shape in that space and
    ``labels`` one string per flat entry, in C order. In the constrained space, a variable
    whose transform changes the dimension has ``coordinates`` (its free coordinates): then
    ``shape`` is theirs and ``point_shape`` that of the variable's full value.
    """

    rv_name: str
    name: str
    shape: tuple[int, ...]
    start: int
    labels: tuple[str, ...]
    coordinates: FreeCoordinates | None = None

    @property
    def point_shape(self) -> tuple[int, ...]:
        """The shape of this variable's value in a point."""
        return self.coordinates.shape if self.coordinates is not None else self.shape

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    @property
    def stop(self) -> int:
        return self.start + self.size


def resolve_model(model: pm.Model | None) -> pm.Model:
    """The given model, or the one on PyMC's context stack, as in PyMC."""
    if model is not None and not isinstance(model, pm.Model):
        raise ArgumentError(f"model= must be a pymc.Model, got {type(model).__name__}.")
    try:
        return pm.modelcontext(model)
    except TypeError:
        raise ArgumentError(
            "no model was given and none is on the context stack: pass model= or call "
            "inside `with model:`."
        ) from None


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_graph(
    model: pm.Model | None = None, *, space: Space, terms: Terms, jacobian: bool | None = None
) -> ModelGraph:
    """The cached :class:`ModelGraph` of ``model`` for ``space`` and ``terms``.

    ``jacobian`` says whether the log-Jacobian of the transforms enters the posterior; by
    default it does exactly in the unconstrained space. ``space="unconstrained",
    jacobian=False`` is the constrained-space posterior in unconstrained coordinates, which
    is how a constrained-space mode is searched for without hitting the support's edges.
    """
    check_option("space", space, Space)
    check_option("terms", terms, Terms)
    if jacobian is None:
        jacobian = space == "unconstrained"
    model = resolve_model(model)
    signature = model_signature(model)
    cached = _CACHE.get(model)
    if cached is None or cached[0] != signature:
        cached = (signature, {})
        _CACHE[model] = cached
    graphs = cached[1]
    key = (space, terms, jacobian)
    if key not in graphs:
        graphs[key] = ModelGraph(model, space=space, terms=terms, jacobian=jacobian)
    return graphs[key]


class ModelGraph:
    """A PyMC model as functions of a flat parameter vector (see the module docstring)."""

    def __init__(self, model: pm.Model, *, space: Space, terms: Terms, jacobian: bool):
        model_checks.require_supported(model, terms)
        self.model = model
        self.space = space
        self.terms = terms
        self.jacobian = jacobian and space == "unconstrained"
        # Free variables integrated out: none (the Laplace marginal's differ).
        self.latent: tuple[str, ...] = ()
        self.free_rvs = list(model.free_RVs)
        self.observed_rvs = list(model.observed_RVs)
        transforms = {rv: model.rvs_to_transforms.get(rv) for rv in self.free_rvs}
        self.transforms = transforms
        self._space_transforms = (
            transforms if space == "unconstrained" else dict.fromkeys(self.free_rvs)
        )
        # In the constrained space a transformed variable gets a value variable of its own
        # shape (the model's has the transformed shape, K - 1 for a K-simplex).
        self.rvs_to_values = dict(model.rvs_to_values)
        if space == "constrained":
            self.rvs_to_values.update(
                {rv: rv.type(name=rv.name) for rv in self.free_rvs if transforms[rv] is not None}
            )

        self.blocks = self._layout()
        self.size = self.blocks[-1].stop if self.blocks else 0
        self.labels = tuple(label for block in self.blocks for label in block.labels)
        # A static length lets the rewrites see the identity in vectorized derivatives.
        self.theta = pt.vector("theta", dtype="float64", shape=(self.size,))
        self.values = {
            self.rvs_to_values[rv]: _block_value(self.theta, block)
            for rv, block in zip(self.free_rvs, self.blocks, strict=True)
        }
        # Observed values are constants or data containers; they are the graph's data inputs.
        self.data_inputs = {rv.name: model.rvs_to_values[rv] for rv in self.observed_rvs}
        # The graphs below are built on first use: some callers need only the layout.
        self._companions: dict = {}

    def companion(self, build: Callable[[ModelGraph], T]) -> T:
        """``build(self)``, built once per graph: the one cache of everything other modules
        derive from a graph (compiled helpers, simulators, batched likelihoods). A graph is
        replaced when its model changes, and its companions with it."""
        if build not in self._companions:
            self._companions[build] = build(self)
        return self._companions[build]

    @functools.cached_property
    def logp(self):
        """The log-density of ``terms`` as a graph of ``theta``."""
        return self._log_density()

    @property
    def constrained(self):
        """The point in the constrained space as a flat graph of ``theta``."""
        return self._space_maps[0]

    @property
    def unconstrained(self):
        """The point in the unconstrained space as a flat graph of ``theta``."""
        return self._space_maps[1]

    # -- building -------------------------------------------------------------------------

    def _layout(self) -> tuple[Block, ...]:
        model = self.model
        shapes = model.eval_rv_shapes()
        blocks, start = [], 0
        for rv in self.free_rvs:
            transform = self.transforms[rv]
            value_name = model.rvs_to_values[rv].name
            full_shape = tuple(int(length) for length in shapes[rv.name])
            value_shape = tuple(int(length) for length in shapes[value_name])
            dims = model.named_vars_to_dims.get(rv.name)
            if self.space == "unconstrained" and transform is not None:
                # A transform that changes the shape (a simplex) breaks the dims' meaning.
                dims = dims if value_shape == full_shape else None
                labels = element_labels(value_name, value_shape, dims, model.coords)
                blocks.append(Block(rv.name, value_name, value_shape, start, labels))
            else:
                coordinates = free_coordinates(rv.name, transform, full_shape, value_shape)
                labels = element_labels(rv.name, full_shape, dims, model.coords)
                shape = full_shape
                if coordinates is not None:
                    labels, shape = coordinates.labels(labels), coordinates.free_shape
                blocks.append(Block(rv.name, rv.name, shape, start, labels, coordinates))
            start += blocks[-1].size
        return tuple(blocks)

    def _replace_values(self, graphs):
        return graph_replace(list(graphs), self.values, strict=False)

    def of_theta(self, graphs, *, observed: Literal["data", "random"] = "data") -> list:
        """Graphs written in the model's random variables — a distribution's parameters, a
        deterministic, a potential, the observed variables themselves — as graphs of
        ``theta``: the one place where they are built.

        Each free variable becomes its value in this graph's space (through its transform
        in the unconstrained space). Observed variables become their data
        (``observed="data"``) or stay random (``"random"``: draws, for simulation).
        """
        rvs_to_values = (
            self.rvs_to_values
            if observed == "data"
            else {rv: self.rvs_to_values[rv] for rv in self.free_rvs}
        )
        replaced = replace_rvs_by_values(
            list(graphs), rvs_to_values=rvs_to_values, rvs_to_transforms=self._space_transforms
        )
        return self._replace_values(replaced)

    def _term_graphs(self, rvs):
        return logp_terms(
            rvs,
            rvs_to_values=self.rvs_to_values,
            rvs_to_transforms=self._space_transforms,
            jacobian=self.jacobian,
        )

    @functools.cached_property
    def _terms(self) -> dict:
        """Random variable → its log-density term, for every variable ``terms`` includes."""
        rvs = self.observed_rvs if self.terms == "likelihood" else self.free_rvs + self.observed_rvs
        return dict(zip(rvs, self._term_graphs(rvs), strict=True))

    def _log_density(self):
        graphs = [term.sum() for term in self._terms.values()]
        total = pt.add(*graphs) if len(graphs) > 1 else graphs[0]
        [logp] = self._replace_values([pt.cast(total, "float64")])
        if self.terms == "posterior" and self.model.potentials:
            potentials = self.of_theta(self.model.potentials)
            logp = pt.add(logp, *[pt.cast(potential.sum(), "float64") for potential in potentials])
        return logp

    @functools.cached_property
    def observation_labels(self) -> tuple[str, ...]:
        """One label per observation: every element of every observed variable is one
        observation, except that a row of a multivariate variable (its support dimensions)
        is one observation. (The per-observation log-likelihood itself is
        :class:`~pmfisher._core.data.data_likelihood.DataLikelihood`'s.)"""
        data_shapes = [_value_shape(data) for data in self.data_inputs.values()]
        labels = []
        for rv, shape in zip(self.observed_rvs, data_shapes, strict=True):
            support_ndim = getattr(rv.owner.op, "ndim_supp", 0)
            batch_shape = tuple(int(n) for n in shape)[: len(shape) - support_ndim]
            dims = self.model.named_vars_to_dims.get(rv.name)
            labels += element_labels(rv.name, batch_shape, dims, self.model.coords)
        return tuple(labels)

    @functools.cached_property
    def point_values(self) -> list[pt.TensorVariable]:
        """Each free variable's full constrained value (all K entries of a simplex) as a
        graph of ``theta``, in model order."""
        values = replace_rvs_by_values(
            self.free_rvs,
            rvs_to_values=self.rvs_to_values,
            rvs_to_transforms=self._space_transforms,
        )
        return self._replace_values(values) if values else []

    @functools.cached_property
    def _space_maps(self):
        """Flat graphs of ``theta`` giving the point in the constrained and the unconstrained
        space (one of them is ``theta`` itself)."""
        if self.space == "unconstrained":
            blocks = model_graph(self.model, space="constrained", terms=self.terms).blocks
            constrained = [
                value[block.coordinates.index] if block.coordinates is not None else value
                for value, block in zip(self.point_values, blocks, strict=True)
            ]
            return (_flat_concat(constrained) if constrained else self.theta), self.theta
        forwards = [
            transform.forward(rv, *rv.owner.inputs) if transform is not None else rv
            for rv, transform in self.transforms.items()
        ]
        unconstrained_values = replace_rvs_by_values(forwards, rvs_to_values=self.rvs_to_values)
        [unconstrained] = self._replace_values(
            [_flat_concat(unconstrained_values)] if unconstrained_values else [self.theta]
        )
        return self.theta, unconstrained

    @functools.cached_property
    def deterministics(self) -> dict[str, pt.TensorVariable]:
        """Every deterministic of the model as a graph of ``theta``, name → graph."""
        deterministics = self.model.deterministics
        graphs = self.of_theta(deterministics) if deterministics else []
        return dict(zip([var.name for var in deterministics], graphs, strict=True))

    # -- compiled functions (each built once, on first use) --------------------------------

    @property
    def _few_calls(self):  # the backend of a function called a few times per point
        return few_calls_backend(self.size)

    @functools.cached_property
    def logp_fn(self):
        return compile_function([self.theta], self.logp, backend=self._few_calls)

    @functools.cached_property
    def logp_and_grad_fn(self):
        with self.explaining("the gradient"):
            return compile_derived(
                [self.theta],
                [self.logp],
                lambda: [self.logp, derivatives.gradient(self.logp, self.theta)],
                recipe="log-density and gradient",
                backend=self._few_calls,
            )

    @functools.cached_property
    def hessian_fn(self):
        """Dense Hessian of the log-density (not negated), evaluated a few times per call."""
        with self.explaining("the Hessian"):
            return compile_derived(
                [self.theta],
                [self.logp],
                lambda: derivatives.hessian(self.logp, self.theta),
                recipe="Hessian",
                backend="python",
            )

    @functools.cached_property
    def hessian_vector_fn(self):
        vector = pt.vector("vector", dtype="float64")
        with self.explaining("the Hessian-vector product"):
            return compile_derived(
                [self.theta, vector],
                [self.logp],
                lambda: derivatives.hessian_vector_product(self.logp, self.theta, vector),
                recipe="Hessian-vector product",
            )

    @functools.cached_property
    def to_constrained_fn(self):
        return compile_function([self.theta], self.constrained, backend=self._few_calls)

    @functools.cached_property
    def to_unconstrained_fn(self):
        return compile_function([self.theta], self.unconstrained, backend=self._few_calls)

    @functools.cached_property
    def point_fn(self):
        return compile_function([self.theta], self.point_values, backend=self._few_calls)

    @functools.cached_property
    def variable_logp_fns(self):
        """One compiled log-density per variable, used only to say which one is at fault."""
        rvs = self.free_rvs + self.observed_rvs
        terms = self._replace_values([pt.cast(t.sum(), "float64") for t in self._term_graphs(rvs)])
        return {
            rv.name: compile_function([self.theta], term)
            for rv, term in zip(rvs, terms, strict=True)
        }

    @contextlib.contextmanager
    def explaining(self, what: str):
        """Turn PyTensor's failure to derive or vectorize a graph of this model (an operation
        without a gradient or a batched form) into an ``UnsupportedModelError`` that names the
        variables and the reason."""
        try:
            yield
        except (NotImplementedError, MethodNotDefined) as error:
            # The first words only: PyTensor prints whole nodes with all their inputs.
            reason = (str(error).strip() or repr(error)).splitlines()[0][:160]
            if isinstance(error, MethodNotDefined) and error.args:
                reason = f"has no {error.args[0]} for the operation {error.args[-1]}"
            variables = ", ".join(
                f"{rv.name} ({labelled.distribution_name(rv)})" for rv in self.observed_rvs
            )
            raise UnsupportedModelError(
                f"{what} of the model with observed variable(s) {variables or 'none'} cannot be "
                f"formed: PyTensor {reason}. pmfisher needs it for this computation; the "
                "functions that need only the log-density and its gradient may still work."
            ) from None

    def require_observations(self):
        if not self.observed_rvs:
            raise UnsupportedModelError(
                "the model has no observed variables, so it has no likelihood terms; "
                "observe data with pm.<Distribution>(..., observed=...)."
            )

    def require_elementwise(self) -> None:
        """An ``UnsupportedModelError`` naming the observed variables whose log-density term
        does not have one entry per observation, so that no per-observation score exists."""
        self.require_observations()
        culprits = []
        for rv in self.observed_rvs:
            term = self._terms[rv]
            support_ndim = getattr(rv.owner.op, "ndim_supp", 0)
            batch_ndim = self.data_inputs[rv.name].ndim - support_ndim
            if term.ndim != batch_ndim:
                culprits.append(
                    f"{rv.name} (a term of {term.ndim} dimension(s) for data of "
                    f"{batch_ndim} batch dimension(s))"
                )
        if culprits:
            raise UnsupportedModelError(
                f"the log-density of the observed variable(s) {', '.join(culprits)} is not "
                "elementwise: it does not give one term per observation (a CustomDist whose "
                "logp sums over the data does this), so per-observation scores do not exist. "
                "scores, empirical_fisher, sandwich_covariance and information_matrix_test "
                "need them: return one log-density value per observation from the logp "
                "(without .sum()). observed_information, find_mode, laplace and "
                "fisher_information do not need them."
            )

    # -- points (pmfisher._core.model.points) ------------------------------------------------------

    def in_space(self, space: Space) -> ModelGraph:
        """The graph of the same model and terms in ``space``."""
        if space == self.space:
            return self
        return model_graph(self.model, space=space, terms=self.terms)

    def flatten(self, point) -> np.ndarray:
        """Flat vector in this graph's space from a point (see :func:`points.flatten`)."""
        return points.flatten(self, point)

    def constrained_point(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The point of a flat vector (see :func:`points.constrained_point`)."""
        return points.constrained_point(self, flat)

    def check_in_support(self, flat: np.ndarray) -> float:
        """The log-density at ``flat``, or a ``PointError`` naming the variable outside its
        support (see :func:`points.check_in_support`)."""
        return points.check_in_support(self, flat)


def _block_value(theta, block: Block) -> pt.TensorVariable:
    """A block's value as a graph of the flat vector: its slice, completed to the full value
    where the block holds free coordinates."""
    value = theta[block.start : block.stop].reshape(block.shape)
    return block.coordinates.complete(value) if block.coordinates is not None else value


def _flat_concat(graphs) -> pt.TensorVariable:
    return pt.concatenate([pt.cast(graph, "float64").ravel() for graph in graphs])


def _value_shape(data) -> tuple[int, ...]:
    """Shape of an observed value: a constant's or a data container's without compiling
    anything (a compiled function costs a rewrite pass), any other graph by evaluating it."""
    if isinstance(data, Constant):
        return np.shape(data.data)
    if isinstance(data, SharedVariable):
        return np.shape(data.get_value(borrow=True))
    return tuple(compile_function([], pt.as_tensor(data).shape)())
