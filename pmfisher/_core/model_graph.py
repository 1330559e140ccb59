"""The graph layer: a PyMC model seen as a function of one flat parameter vector.

A :class:`ModelGraph` is built once per ``(model, space, terms)`` and cached on the model
(:func:`model_graph`). It owns

* the flat parameter vector ``theta`` of the chosen space and its layout (:class:`Block`),
* the log-density of the chosen terms as a scalar graph of ``theta``,
* the per-observation log-likelihood terms as a vector graph of ``theta``,
* the observed data as replaceable inputs (``data_inputs``),
* graphs mapping ``theta`` to the other space,

and compiles each function it is asked for once, on first use. Everything here works on flat
NumPy arrays; labelling into xarray happens at the public edge.

Where a transform changes the dimension (a simplex of K entries has K - 1 free coordinates, a
zero-sum vector n - 1), the constrained space uses the free coordinates: the first K - 1
probabilities of a simplex, the first n - 1 entries along each zero-sum axis, the last entry
implied by the constraint (:mod:`pmfisher._core.free_coordinates`). Their labels keep the
entries' own indices (``p[0]``, ``p[1]`` of a 3-simplex, ``p[2]`` implied). Points, given or
returned (:meth:`ModelGraph.flatten`, :meth:`ModelGraph.constrained_point`), always hold all
entries; a given point must satisfy the constraint.

What ``terms="likelihood"`` holds: the observed variables' densities, nothing else. A
``pm.Potential`` is a term of the posterior only (pmfisher cannot tell data from prior inside
it), and a model whose data enter only through potentials has no likelihood. Missing
observations that PyMC imputes (``y_unobserved``) are free variables whose density is a prior
under ``terms="posterior"``; the likelihood of the observed values does not depend on them,
so ``terms="likelihood"`` rejects such a model, naming them, rather than return an information
matrix with their rows zero.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.logprob.basic import transformed_conditional_logp
from pymc.logprob.utils import ParameterValueError, replace_rvs_by_values
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant
from pytensor.graph.replace import graph_replace
from pytensor.graph.utils import MethodNotDefined

from pmfisher._core import derivatives
from pmfisher._core.compilation import compile_derived, compile_function
from pmfisher._core.free_coordinates import FreeCoordinates, free_coordinates
from pmfisher._core.options import Space, Terms, check_option
from pmfisher.errors import PMFisherError, PointError, UnsupportedModelError

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
        raise PMFisherError(f"model= must be a pymc.Model, got {type(model).__name__}.")
    try:
        return pm.modelcontext(model)
    except TypeError:
        raise PMFisherError(
            "no model was given and none is on the context stack: pass model= or call "
            "inside `with model:`."
        ) from None


def element_labels(name: str, shape: tuple[int, ...], dims, coords) -> tuple[str, ...]:
    """Labels ``name[i, j]`` for every element in C order, using coordinate values where the
    dimension is named and its coordinates have the right length."""
    if not shape:
        return (name,)
    axes = []
    for axis, length in enumerate(shape):
        dim = dims[axis] if dims is not None and axis < len(dims) else None
        values = coords.get(dim) if dim is not None else None
        if values is None or len(values) != length:
            values = range(length)
        axes.append([str(value) for value in values])
    grid = np.array(np.meshgrid(*axes, indexing="ij")).reshape(len(shape), -1).T
    return tuple(f"{name}[{', '.join(index)}]" for index in grid)


def _variables_signature(model: pm.Model) -> tuple:
    """What, if it changes, makes a cached graph stale (variables added to the model)."""
    return tuple(
        tuple(id(var) for var in group)
        for group in (model.free_RVs, model.observed_RVs, model.potentials, model.deterministics)
    )


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
    signature = _variables_signature(model)
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
        _check_supported(model, terms)
        self.model = model
        self.space = space
        self.terms = terms
        self.jacobian = jacobian and space == "unconstrained"
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
    def pointwise(self):
        """The per-observation log-likelihood as one flat graph of ``theta``."""
        return self._pointwise_and_labels[0]

    @property
    def observation_labels(self) -> tuple[str, ...]:
        return self._pointwise_and_labels[1]

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

    def _term_graphs(self, rvs):
        if not rvs:
            return []
        return transformed_conditional_logp(
            rvs,
            rvs_to_values=self.rvs_to_values,
            rvs_to_transforms=self._space_transforms,
            jacobian=self.jacobian,
        )

    @functools.cached_property
    def _terms(self) -> dict:
        """Random variable → its log-density term, for every variable ``terms`` includes
        (one derivation serves both the log-density and the pointwise log-likelihood)."""
        rvs = self.observed_rvs if self.terms == "likelihood" else self.free_rvs + self.observed_rvs
        return dict(zip(rvs, self._term_graphs(rvs), strict=True))

    def _log_density(self):
        graphs = [term.sum() for term in self._terms.values()]
        if self.terms == "posterior" and self.model.potentials:
            potentials = replace_rvs_by_values(
                self.model.potentials,
                rvs_to_values=self.rvs_to_values,
                rvs_to_transforms=self._space_transforms,
            )
            graphs += [potential.sum() for potential in potentials]
        total = pt.add(*graphs) if len(graphs) > 1 else graphs[0]
        [logp] = self._replace_values([pt.cast(total, "float64")])
        return logp

    @functools.cached_property
    def _pointwise_and_labels(self):
        """Every element of every observed variable is one observation, except that a row of
        a multivariate variable (its support dimensions) is one observation."""
        if not self.observed_rvs:
            return None, ()
        terms = [self._terms[rv] for rv in self.observed_rvs]
        pointwise = pt.concatenate([pt.cast(term, "float64").ravel() for term in terms])
        [pointwise] = self._replace_values([pointwise])
        data_shapes = [_value_shape(data) for data in self.data_inputs.values()]
        labels = []
        for rv, shape in zip(self.observed_rvs, data_shapes, strict=True):
            support_ndim = getattr(rv.owner.op, "ndim_supp", 0)
            batch_shape = tuple(int(n) for n in shape)[: len(shape) - support_ndim]
            dims = self.model.named_vars_to_dims.get(rv.name)
            labels += element_labels(rv.name, batch_shape, dims, self.model.coords)
        return pointwise, tuple(labels)

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
        model = self.model
        graphs = replace_rvs_by_values(
            model.deterministics,
            rvs_to_values=self.rvs_to_values,
            rvs_to_transforms=self._space_transforms,
        )
        return dict(
            zip(
                [var.name for var in model.deterministics],
                self._replace_values(graphs) if graphs else [],
                strict=True,
            )
        )

    # -- compiled functions (each built once, on first use) --------------------------------

    @functools.cached_property
    def logp_fn(self):
        return compile_function([self.theta], self.logp)

    @functools.cached_property
    def logp_and_grad_fn(self):
        with self.explaining("the gradient"):
            return compile_derived(
                [self.theta],
                [self.logp],
                lambda: [self.logp, derivatives.gradient(self.logp, self.theta)],
                recipe="log-density and gradient",
            )

    @functools.cached_property
    def hessian_fn(self):
        """Dense Hessian of the log-density (not negated)."""
        with self.explaining("the Hessian"):
            return compile_derived(
                [self.theta],
                [self.logp],
                lambda: derivatives.hessian(self.logp, self.theta),
                recipe="Hessian",
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
    def pointwise_fn(self):
        self.require_observations()
        return compile_function([self.theta], self.pointwise)

    @functools.cached_property
    def scores_fn(self):
        """Observation × parameter matrix of per-observation scores."""
        self.require_observations()
        with self.explaining("the per-observation scores"):
            return compile_derived(
                [self.theta],
                [self.pointwise],
                lambda: derivatives.jacobian_forward(self.pointwise, self.theta),
                recipe="forward-mode Jacobian",
            )

    @functools.cached_property
    def to_constrained_fn(self):
        return compile_function([self.theta], self.constrained)

    @functools.cached_property
    def to_unconstrained_fn(self):
        return compile_function([self.theta], self.unconstrained)

    @functools.cached_property
    def point_fn(self):
        return compile_function([self.theta], self.point_values)

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
                f"{rv.name} ({_distribution_name(rv)})" for rv in self.observed_rvs
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

    # -- points -----------------------------------------------------------------------------

    def flatten(self, point) -> np.ndarray:
        """Flat vector in this graph's space from a point in the constrained space.

        ``point`` maps free-variable names to values (a ``Mode`` is accepted too); names of
        the unconstrained value variables are accepted as well when every variable is given
        that way.
        """
        point = getattr(point, "point", point)
        if not isinstance(point, Mapping):
            raise PointError(
                f"a point must map free-variable names to values, got {type(point).__name__}."
            )
        rv_names = [block.rv_name for block in self.blocks]
        value_names = [self.model.rvs_to_values[rv].name for rv in self.free_rvs]
        given_space = "constrained"
        if not all(name in point for name in rv_names) and all(
            name in point for name in value_names
        ):
            given_space = "unconstrained"
        names = rv_names if given_space == "constrained" else value_names
        missing = [name for name in names if name not in point]
        if missing:
            raise PointError(f"the point is missing free variable(s) {', '.join(missing)}.")
        graph = (
            self
            if given_space == self.space
            else model_graph(self.model, space=given_space, terms=self.terms)
        )
        flat = np.empty(graph.size)
        for block, name in zip(graph.blocks, names, strict=True):
            value = _point_value(name, point[name], block.point_shape)
            if block.coordinates is not None:
                value = block.coordinates.reduce(value)
            flat[block.start : block.stop] = value.ravel()
        if given_space != self.space:
            flat = np.asarray(
                graph.to_unconstrained_fn(flat)
                if self.space == "unconstrained"
                else graph.to_constrained_fn(flat),
                dtype="float64",
            )
            if not np.all(np.isfinite(flat)):
                # A transform of a value outside its support (the log of a negative scale).
                bad = [
                    label for label, x in zip(self.labels, flat, strict=True) if not np.isfinite(x)
                ]
                raise PointError(
                    f"the point is outside the support of {_names_of(self.blocks, bad)}: "
                    f"its transform to the {self.space} space is not finite at {', '.join(bad)}."
                )
        return np.asarray(flat, dtype="float64")

    def constrained_point(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The point (free-variable name → value, constrained space, all entries of a
        simplex or zero-sum vector) of a flat vector."""
        values = self.point_fn(np.asarray(flat, dtype="float64"))
        return {
            rv.name: np.asarray(value, dtype="float64")
            for rv, value in zip(self.free_rvs, values, strict=True)
        }

    def check_in_support(self, flat: np.ndarray) -> float:
        """The log-density at ``flat``; a ``PointError`` naming the variable if it is not finite
        or, in the constrained space, if a free variable is outside its own support (which
        the likelihood alone does not see: ``mu = 5`` under ``mu ~ Uniform(-3, 3)``)."""
        if self.space == "constrained" and any(self.transforms.values()):
            # The model's transforms map exactly the support onto the real line.
            unconstrained = np.asarray(self.to_unconstrained_fn(flat))
            if not np.all(np.isfinite(unconstrained)):
                blocks = model_graph(self.model, space="unconstrained", terms=self.terms).blocks
                outside = [
                    block.rv_name
                    for block in blocks
                    if not np.all(np.isfinite(unconstrained[block.start : block.stop]))
                ]
                raise PointError(
                    f"the point is outside the support of {', '.join(outside)}: the model's "
                    "transform of it is not finite."
                )
        try:
            logp = float(self.logp_fn(flat))
        except ParameterValueError:
            logp = -np.inf
        if np.isfinite(logp):
            return logp
        culprits = []
        for name, function in self.variable_logp_fns.items():
            try:
                value = float(function(flat))
            except ParameterValueError as error:
                culprits.append(f"{name} (its parameters violate {str(error).splitlines()[0]})")
                continue
            if not np.isfinite(value):
                culprits.append(name)
        raise PointError(
            f"the log-density is {logp} at this point: it is outside the support of "
            f"{', '.join(culprits) or 'the model'}."
        )


def _names_of(blocks, labels) -> str:
    """The free variables owning some of the flat entries ``labels``."""
    labels = set(labels)
    return ", ".join(block.rv_name for block in blocks if labels.intersection(block.labels))


def _block_value(theta, block: Block) -> pt.TensorVariable:
    """A block's value as a graph of the flat vector: its slice, completed to the full value
    where the block holds free coordinates."""
    value = theta[block.start : block.stop].reshape(block.shape)
    return block.coordinates.complete(value) if block.coordinates is not None else value


def _point_value(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """A point's value for ``name`` as a finite float array of ``shape``, or a ``PointError``
    saying what is wrong with it."""
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise PointError(
            f"{name} must be numeric in the point, got {type(value).__name__} {value!r:.60}."
        ) from None
    if array.shape != shape:
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise PointError(
                f"{name} has shape {array.shape} in the point, "
                f"but the model's {name} has shape {shape}."
            ) from None
    if not np.all(np.isfinite(array)):
        bad = element_labels(name, shape, None, {})
        bad = [label for label, x in zip(bad, array.ravel(), strict=True) if not np.isfinite(x)]
        raise PointError(f"the point has non-finite values at {', '.join(bad)}.")
    return array


def _distribution_name(rv) -> str:
    op = rv.owner.op
    print_name = getattr(op, "_print_name", None)
    return str(print_name[0] if print_name else type(op).__name__)


def _flat_concat(graphs) -> pt.TensorVariable:
    return pt.concatenate([pt.cast(graph, "float64").ravel() for graph in graphs])


def _check_supported(model: pm.Model, terms: str) -> None:
    discrete = [
        rv.name for rv in model.free_RVs if rv.type.dtype.startswith(("int", "uint", "bool"))
    ]
    if discrete:
        raise UnsupportedModelError(
            f"free variable(s) {', '.join(discrete)} are discrete: pmfisher differentiates the "
            "log-density and needs every free variable continuous. Marginalize them out "
            "(pymc_extras.marginalize) or fix them with pm.do."
        )
    if not model.free_RVs:
        raise UnsupportedModelError(
            "the model has no free variables: there is nothing to estimate."
        )
    imputed = [
        rv.name
        for rv in model.free_RVs
        if rv.name.endswith("_unobserved")
        and rv.name.removesuffix("_unobserved") + "_observed" in model.named_vars
    ]
    if terms == "likelihood" and imputed:
        raise UnsupportedModelError(
            f"free variable(s) {', '.join(imputed)} are imputed missing observations: the "
            "likelihood of the observed values does not depend on them, so they are not "
            "parameters of terms='likelihood'. Drop the missing entries from the data, or use "
            "terms='posterior', where their density enters as a prior."
        )
    if terms == "likelihood" and not model.observed_RVs:
        described = (
            f" (its Potential terms {', '.join(p.name or '?' for p in model.potentials)} are not "
            "likelihood terms)"
            if model.potentials
            else ""
        )
        raise UnsupportedModelError(
            "terms='likelihood' needs observed variables, and the model has none"
            + described
            + "; use terms='posterior' or observe data with pm.<Distribution>(..., observed=...)."
        )


def _value_shape(data) -> tuple[int, ...]:
    """Shape of an observed value: a constant's or a data container's without compiling
    anything (a compiled function costs a rewrite pass), any other graph by evaluating it."""
    if isinstance(data, Constant):
        return np.shape(data.data)
    if isinstance(data, SharedVariable):
        return np.shape(data.get_value(borrow=True))
    return tuple(compile_function([], pt.as_tensor(data).shape)())
