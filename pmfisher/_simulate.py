"""The data side of the graph layer: simulating data sets and evaluating on them.

Two per-model cached objects, each built once and reused:

* :class:`Simulator` (:func:`simulator`) draws replicate data sets of every observed
  variable from the model's own forward graph, with the free variables replaced by a point
  and covariates / ``pm.Data`` containers held fixed. One compiled function draws all
  replicates at once: the forward graph is vectorized over a leading replicate axis of the
  (constrained, flat) parameter vector.
* :class:`DataLikelihood` (:func:`data_likelihood`) is the likelihood graph of a
  :class:`~pmfisher._graph.ModelGraph` with its observed values (``graph.data_inputs``)
  replaced by symbolic inputs and vectorized over a leading replicate axis of both the
  parameters and the data, so that log-likelihoods, gradients, Hessians, per-observation
  scores and per-observation Hessians are evaluated for a batch of (θ, data set) pairs in
  one call, chunked over replicates to bound memory.

Interface for other modules (kept stable)
-----------------------------------------
``simulate_data(model, point, draws, random_seed=None)``
    observed name → array with a leading replicate axis of length ``draws``.
``data_likelihood(model, space=...).logp_grad_hessian(theta_batch, data)``
    ``(R,)``, ``(R, d)``, ``(R, d, d)`` for ``theta_batch`` of shape ``(R, d)`` in ``space``
    and ``data`` as returned by ``simulate_data`` (or ``DataLikelihood.observed_batch()``).
``fit_batch(model, data, start=...)``
    the MLE of every replicate by vectorized damped Newton steps (:class:`BatchFit`).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.custom import CustomDistRV
from pymc.distributions.distribution import SymbolicRandomVariable
from pymc.logprob.basic import transformed_conditional_logp
from pytensor.gradient import pushforward
from pytensor.graph import vectorize_graph
from pytensor.graph.basic import Constant
from pytensor.graph.replace import _vectorize_node, clone_replace, graph_replace
from pytensor.graph.traversal import ancestors, toposort
from pytensor.tensor import get_vector_length
from pytensor.tensor.random.op import RandomVariable
from pytensor.tensor.random.type import RandomGeneratorType
from pytensor.tensor.type_other import NoneTypeT

from pmfisher import _derivatives
from pmfisher._compile import compile_function
from pmfisher._graph import ModelGraph, model_graph, resolve_model
from pmfisher._options import Space
from pmfisher.errors import PMFisherError, UnsupportedModelError
from pmfisher.mode import GRADIENT_TOLERANCE

__all__ = [
    "BatchFit",
    "DataLikelihood",
    "Simulator",
    "data_likelihood",
    "fit_batch",
    "require_forward_samplers",
    "simulate_data",
    "simulator",
]

# Largest number of elements in one intermediate array of a batched evaluation (16 MB of
# float64); replicates and parameter directions are chunked to stay under it.
ELEMENT_BUDGET = 2**21
NEWTON_MAX_ITER = 100
LINE_SEARCH_HALVINGS = 30


# -- simulation -------------------------------------------------------------------------------


def simulate_data(model: pm.Model | None, point, draws: int, random_seed=None) -> dict:
    """Replicate data sets drawn from the model's forward graph at ``point``.

    Parameters
    ----------
    model : pm.Model or None
        The model (``None``: the one on the context stack).
    point : dict or Mode
        Free-variable name → value in the constrained space.
    draws : int
        Number of replicate data sets.
    random_seed : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        The same seed gives the same numbers.

    Returns
    -------
    dict[str, numpy.ndarray]
        Observed-variable name → array of shape ``(draws, *observed_shape)``.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> simulate_data(model, {"lam": 3.0}, draws=5, random_seed=1)["y"].shape
    (5, 3)
    """
    sim = simulator(model)
    x = sim.graph.flatten(point)
    return sim.draw(np.broadcast_to(x, (int(draws), x.size)), random_seed)


def simulator(model: pm.Model | None = None) -> Simulator:
    """The cached :class:`Simulator` of ``model``."""
    model = resolve_model(model)
    require_forward_samplers(model)
    return _cached(model, "simulator", Simulator)


class Simulator:
    """Forward simulation of all observed variables, vectorized over replicates.

    ``draw(theta_batch, random_seed)`` takes one flat constrained parameter vector per
    replicate (``(R, d)``; repeat a point to draw ``R`` data sets at it) and returns observed
    name → ``(R, *shape)`` arrays.
    """

    def __init__(self, model: pm.Model):
        self.graph = model_graph(model, space="constrained", terms="likelihood")
        self.names = tuple(rv.name for rv in self.graph.observed_rvs)

    @functools.cached_property
    def _function(self):
        graph = self.graph
        # Free variables become slices of the flat (constrained) parameter vector.
        point_of_theta = {
            rv: graph.theta[block.start : block.stop].reshape(block.shape).astype(rv.dtype)
            for rv, block in zip(graph.free_rvs, graph.blocks, strict=True)
        }
        draws = graph_replace(list(graph.observed_rvs), point_of_theta, strict=False)
        theta_batch = pt.matrix("theta_batch", dtype="float64")
        batched = _vectorize_draws(draws, graph.theta, theta_batch)
        # Random generators become inputs, so that a seed fixes the numbers and compiled
        # functions hold no random state.
        shared_rngs = [
            var
            for var in ancestors(batched)
            if isinstance(var.type, RandomGeneratorType) and not isinstance(var, Constant)
        ]
        rng_inputs = [rng.type(f"rng_{i}") for i, rng in enumerate(shared_rngs)]
        batched = graph_replace(batched, dict(zip(shared_rngs, rng_inputs, strict=True)))
        return compile_function([theta_batch, *rng_inputs], batched), len(rng_inputs)

    def draw(self, theta_batch: np.ndarray, random_seed=None) -> dict[str, np.ndarray]:
        """Observed name → ``(R, *shape)`` draws, one data set per row of ``theta_batch``."""
        function, n_rngs = self._function
        generators = np.random.default_rng(random_seed).spawn(n_rngs)
        theta_batch = np.ascontiguousarray(theta_batch, dtype="float64")
        try:
            values = function(theta_batch, *generators)
        except NotImplementedError as error:
            raise UnsupportedModelError(
                f"an observed variable among {', '.join(self.names)} has no forward sampler "
                f"({error}); simulation needs one for every observed variable."
            ) from error
        return {name: np.asarray(value) for name, value in zip(self.names, values, strict=True)}


def _vectorize_draws(draws, theta, theta_batch):
    """The observed variables' draws with a leading replicate axis, one replicate per row
    of ``theta_batch``.

    A walk in topological order that vectorizes each node with PyTensor's rules, except
    that every random variable is rebuilt with size ``(R, *size)`` and its batched
    parameters aligned to it. PyTensor's own rule infers the new size from the first
    parameter only, so it misses the replicate axis when that parameter does not depend
    on θ (a Binomial's number of trials) and never adds one to a draw that does not
    depend on θ at all. Symbolic random variables (a ``CustomDist`` with ``dist=``) are
    inlined first, so that the random variables inside them get the same treatment.
    """
    draws = _inline_symbolic_random_variables(draws)
    replicates = pt.stack([theta_batch.shape[0]])
    batched = {theta: theta_batch}
    for node in toposort(draws, blockers=[theta]):
        inputs = [batched.get(variable, variable) for variable in node.inputs]
        op = node.op
        if isinstance(op, RandomVariable) and not isinstance(op.size_param(node).type, NoneTypeT):
            outputs = _batched_random_variable(op, node, inputs, replicates)
        elif all(new is old for new, old in zip(inputs, node.inputs, strict=True)):
            continue
        else:
            outputs = _vectorize_node(op, node, *inputs)
            outputs = outputs.outputs if hasattr(outputs, "outputs") else outputs
        batched.update(zip(node.outputs, outputs, strict=True))
    return [batched[draw] for draw in draws]


def _batched_random_variable(op, node, inputs, replicates):
    rng, size, *params = inputs
    aligned = []
    for param, new_param, core_ndim in zip(
        op.dist_params(node), params, op.ndims_params, strict=True
    ):
        if new_param.ndim > param.ndim:
            # A batched parameter gets singleton axes between the replicate axis and its
            # own batch axes, so that it lines up with size (R, *size).
            missing = get_vector_length(size) - (param.ndim - core_ndim)
            new_param = pt.expand_dims(new_param, axis=tuple(range(1, 1 + missing)))
        aligned.append(new_param)
    new_size = pt.concatenate([replicates.astype(size.dtype), size])
    return op.make_node(rng, new_size, *aligned).outputs


def _inline_symbolic_random_variables(draws):
    """Replace each symbolic random variable (an ``OpFromGraph`` of random variables) by its
    inner graph, until none is left."""
    while True:
        symbolic = [node for node in toposort(draws) if isinstance(node.op, SymbolicRandomVariable)]
        if not symbolic:
            return draws
        node = symbolic[0]
        inner_graph = node.op.fgraph.unfreeze()
        inner = clone_replace(
            list(inner_graph.outputs),
            replace=dict(zip(inner_graph.inputs, node.inputs, strict=True)),
        )
        draws = graph_replace(draws, dict(zip(node.outputs, inner, strict=True)), strict=False)


def require_forward_samplers(model: pm.Model) -> None:
    """An ``UnsupportedModelError`` naming the likelihood term that cannot be simulated."""
    if not model.observed_RVs and model.potentials:
        names = ", ".join(potential.name or "?" for potential in model.potentials)
        raise UnsupportedModelError(
            f"the likelihood is given by Potential term(s) {names}, which have no forward "
            "sampler: data cannot be simulated from the model. Write the likelihood as an "
            "observed distribution (pm.CustomDist with random= or dist=), or use method='exact'."
        )
    for rv in model.observed_RVs:
        op = rv.owner.op
        random_fn = getattr(type(op), "_random_fn", None)
        if isinstance(op, CustomDistRV) and "default_not_implemented" in getattr(
            random_fn, "__qualname__", ""
        ):
            raise UnsupportedModelError(
                f"the observed variable {rv.name} is a CustomDist without a forward sampler: "
                "data cannot be simulated from it. Give pm.CustomDist a random= function or "
                "a dist= graph, or use method='exact' where its distribution allows."
            )


# -- the likelihood as a function of (θ, data), batched over replicates ------------------------


def data_likelihood(model: pm.Model | None = None, *, space: Space = "constrained"):
    """The cached :class:`DataLikelihood` of ``model``'s likelihood in ``space``."""
    graph = model_graph(model, space=space, terms="likelihood")
    return _cached(graph.model, ("data_likelihood", space), lambda _: DataLikelihood(graph))


class DataLikelihood:
    """A model's likelihood as a function of the parameters *and* the observed data.

    Every method takes ``theta_batch`` of shape ``(R, d)`` (flat, in ``graph.space``) and
    ``data``, a mapping observed name → array of shape ``(R, *observed_shape)``, and
    evaluates replicate ``r`` at ``(theta_batch[r], data[name][r])``.
    """

    def __init__(self, graph: ModelGraph):
        graph.require_observations()
        self.graph = graph
        model = graph.model
        self.names = tuple(rv.name for rv in graph.observed_rvs)
        # The likelihood terms are rebuilt with symbolic data as the observed variables'
        # values, rather than by substituting the data constants in ``graph.logp``: a
        # covariate equal in value to the data may share the constant after rewriting.
        self.data = {
            rv.name: pt.tensor(
                f"{rv.name}_data",
                dtype=model.rvs_to_values[rv].dtype,
                shape=model.rvs_to_values[rv].type.shape,
            )
            for rv in graph.observed_rvs
        }
        rvs_to_values = {rv: model.rvs_to_values[rv] for rv in graph.free_rvs}
        rvs_to_values.update({rv: self.data[rv.name] for rv in graph.observed_rvs})
        terms = transformed_conditional_logp(
            graph.observed_rvs,
            rvs_to_values=rvs_to_values,
            rvs_to_transforms=graph.transforms
            if graph.space == "unconstrained"
            else dict.fromkeys(graph.free_rvs),
            jacobian=False,
        )
        pointwise = pt.concatenate([pt.cast(term, "float64").ravel() for term in terms])
        [self.pointwise] = graph_replace([pointwise], graph.values, strict=False)
        self.logp = self.pointwise.sum()
        self.data_batch = {
            name: pt.tensor(f"{name}_batch", dtype=var.dtype, shape=(None, *var.type.shape))
            for name, var in self.data.items()
        }
        self.theta_batch = pt.matrix("theta_batch", dtype="float64")

    # -- data ----------------------------------------------------------------------------

    @functools.cached_property
    def observed_data(self) -> dict[str, np.ndarray]:
        """The model's own observed values, observed name → array."""
        values = compile_function([], [pt.as_tensor(v) for v in self.graph.data_inputs.values()])()
        return {name: np.asarray(value) for name, value in zip(self.names, values, strict=True)}

    def observed_batch(self, replicates: int = 1) -> dict[str, np.ndarray]:
        """The observed data repeated along a leading replicate axis."""
        return {
            name: np.broadcast_to(value, (replicates, *value.shape))
            for name, value in self.observed_data.items()
        }

    @functools.cached_property
    def n_elements(self) -> int:
        """Number of observed elements, summed over observed variables."""
        return int(sum(value.size for value in self.observed_data.values()))

    # -- compiled functions --------------------------------------------------------------

    def _vectorized(self, outputs):
        """Graphs of (θ, one data set) → graphs of (θ batch, data batch), replicate first."""
        replace = {self.graph.theta: self.theta_batch}
        replace.update({self.data[name]: self.data_batch[name] for name in self.names})
        return vectorize_graph(list(outputs), replace=replace)

    def _compile(self, outputs, extra_inputs=()):
        inputs = [self.theta_batch, *extra_inputs, *self.data_batch.values()]
        return compile_function(inputs, outputs)

    def _batched(self, outputs, extra_inputs=()):
        return self._compile(self._vectorized(outputs), extra_inputs)

    @functools.cached_property
    def _logp_grad_hessian_fn(self):
        """Batch first, then differentiate: the replicates' log-likelihoods are independent,
        so the gradient of their sum w.r.t. ``theta_batch`` holds each replicate's gradient,
        and pulling back a unit cotangent shared by all replicates gives a row of each
        replicate's Hessian. (Vectorizing the single-replicate Hessian graph instead gives
        the same numbers but takes about five times longer to rewrite and compile.)"""
        [logp] = self._vectorized([self.logp])
        grad = pt.grad(logp.sum(), self.theta_batch)
        cotangent = pt.vector("cotangent", dtype="float64")
        row = pt.grad((grad * cotangent).sum(), self.theta_batch)
        d = self.graph.size
        rows = vectorize_graph(row, replace={cotangent: pt.eye(d, dtype="float64")})
        if rows.ndim == 2:
            # The pullback does not involve the cotangent: the Hessian vanishes identically.
            rows = pt.zeros((d, grad.shape[0], d), dtype="float64")
        hessian = rows.dimshuffle(1, 0, 2)
        return self._compile([logp, grad, 0.5 * (hessian + hessian.dimshuffle(0, 2, 1))])

    @functools.cached_property
    def _directions(self):
        return pt.matrix("directions", dtype="float64")

    @functools.cached_property
    def _directional_scores(self):
        """(θ, directions (k, d), one data set) → (k, n): directional per-observation scores."""
        theta = self.graph.theta
        tangent = theta.type("tangent")
        directional = pushforward(self.pointwise, theta, tangent)
        return vectorize_graph(directional, replace={tangent: self._directions})

    @functools.cached_property
    def _scores_fn(self):
        """The directional scores batched over replicates: (R, k, n)."""
        return self._batched([self._directional_scores], [self._directions])

    @functools.cached_property
    def _observed_scores_fn(self):
        """The directional scores of one data set, without a replicate axis (no batched
        operations: several times faster for the model's own data)."""
        inputs = [self.graph.theta, self._directions, *self.data.values()]
        return compile_function(inputs, self._directional_scores)

    @functools.cached_property
    def _observation_hessians_fn(self):
        """(θ batch, directions (k, d), data) → (R, k, n, d): per-observation Hessians
        applied to each direction, by forward mode over the per-observation scores."""
        theta = self.graph.theta
        scores = _derivatives.jacobian_forward(self.pointwise, theta)
        tangent = theta.type("tangent")
        directional = pushforward(scores, theta, tangent)
        [columns] = vectorize_graph([directional], replace={tangent: self._directions})
        return self._batched([columns], [self._directions])

    @functools.cached_property
    def _constrained_fn(self):
        batched = vectorize_graph(
            self.graph.constrained, replace={self.graph.theta: self.theta_batch}
        )
        return compile_function([self.theta_batch], batched)

    # -- evaluation ----------------------------------------------------------------------

    def _replicate_chunks(self, replicates: int, per_replicate: int):
        step = max(1, ELEMENT_BUDGET // max(1, per_replicate))
        return [slice(start, min(start + step, replicates)) for start in range(0, replicates, step)]

    def _data_args(self, data: Mapping, chunk: slice):
        return [
            np.ascontiguousarray(data[name][chunk], dtype=self.data[name].dtype)
            for name in self.names
        ]

    def _check(self, theta_batch, data) -> np.ndarray:
        theta_batch = np.atleast_2d(np.asarray(theta_batch, dtype="float64"))
        missing = [name for name in self.names if name not in data]
        if missing:
            raise PMFisherError(f"the data are missing observed variable(s) {', '.join(missing)}.")
        for name in self.names:
            if len(data[name]) != len(theta_batch):
                raise PMFisherError(
                    f"{name} has {len(data[name])} replicates but theta_batch has "
                    f"{len(theta_batch)} rows."
                )
        return theta_batch

    def logp_grad_hessian(self, theta_batch, data):
        """Log-likelihood ``(R,)``, gradient ``(R, d)`` and Hessian ``(R, d, d)`` per replicate."""
        theta_batch = self._check(theta_batch, data)
        d = self.graph.size
        parts = [
            self._logp_grad_hessian_fn(theta_batch[chunk], *self._data_args(data, chunk))
            for chunk in self._replicate_chunks(len(theta_batch), self.n_elements * d)
        ]
        logp, grad, hessian = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        return logp, grad, hessian

    def observation_scores(self, theta_batch, data) -> np.ndarray:
        """Per-observation scores ``(R, n, d)``, chunked over replicates and directions."""
        theta_batch = self._check(theta_batch, data)
        return self._directional(self._scores_fn, theta_batch, data, self.n_elements)

    def observed_scores(self, x) -> np.ndarray:
        """Per-observation scores ``(n, d)`` of the model's own data at the flat ``x``,
        chunked over parameter directions."""
        x = np.asarray(x, dtype="float64")
        data = [
            np.asarray(self.observed_data[name], dtype=self.data[name].dtype) for name in self.names
        ]
        d = self.graph.size
        step = max(1, min(d, ELEMENT_BUDGET // max(1, self.n_elements)))
        identity = np.eye(d)
        blocks = [
            np.asarray(self._observed_scores_fn(x, identity[start : start + step], *data))
            for start in range(0, d, step)
        ]
        return np.concatenate(blocks, axis=0).T

    def observation_hessians(self, theta_batch, data) -> np.ndarray:
        """Per-observation Hessians ``(R, n, d, d)``, chunked over replicates and directions."""
        theta_batch = self._check(theta_batch, data)
        d = self.graph.size
        return self._directional(
            self._observation_hessians_fn, theta_batch, data, self.n_elements * d
        )

    def _directional(self, function, theta_batch, data, per_direction: int) -> np.ndarray:
        """Evaluate a function of unit directions, chunking directions then replicates, and
        put the direction axis after the observation axis."""
        d = self.graph.size
        identity = np.eye(d)
        step = max(1, min(d, ELEMENT_BUDGET // max(1, per_direction)))
        direction_chunks = [identity[start : start + step] for start in range(0, d, step)]
        replicate_chunks = self._replicate_chunks(len(theta_batch), per_direction * step)
        out = []
        for chunk in replicate_chunks:
            args = self._data_args(data, chunk)
            blocks = [
                function(theta_batch[chunk], directions, *args)[0]
                for directions in direction_chunks
            ]
            out.append(np.moveaxis(np.concatenate(blocks, axis=1), 1, 2))
        return np.concatenate(out)

    def to_constrained(self, theta_batch) -> np.ndarray:
        """Flat constrained parameters ``(R, d)`` of flat ``theta_batch`` in ``graph.space``."""
        theta_batch = np.atleast_2d(np.asarray(theta_batch, dtype="float64"))
        if self.graph.space == "constrained":
            return theta_batch
        return np.asarray(self._constrained_fn(theta_batch))


# -- batched maximum likelihood ---------------------------------------------------------------


@dataclass(frozen=True)
class BatchFit:
    """The MLE of each replicate data set.

    Attributes
    ----------
    x : numpy.ndarray
        ``(R, d)`` flat MLEs in the unconstrained space (the search space).
    constrained : numpy.ndarray
        ``(R, d)`` the same MLEs, flat in the constrained space.
    logp : numpy.ndarray
        ``(R,)`` log-likelihood at the MLE.
    grad_norm : numpy.ndarray
        ``(R,)`` Euclidean norm of the gradient at the MLE (unconstrained space).
    converged : numpy.ndarray
        ``(R,)`` bool, the gradient criterion of :func:`pmfisher.find_mode` was met.
    n_iter : int
        Newton iterations of the slowest replicate.
    """

    x: np.ndarray
    constrained: np.ndarray
    logp: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    n_iter: int


def fit_batch(model: pm.Model | None, data: Mapping, start) -> BatchFit:
    """Maximize the likelihood of every replicate data set at once.

    Damped Newton steps in the unconstrained space, vectorized over replicates: the Hessian
    is made negative definite by flipping and flooring its eigenvalues, and each replicate
    halves its own step until the log-likelihood rises (Armijo). A replicate has converged
    when its gradient norm is below ``GRADIENT_TOLERANCE · max(1, |logp|)``, as in
    :func:`pmfisher.find_mode`; it stops iterating a thousand times below that (or when no
    step raises its log-likelihood any more).

    Parameters
    ----------
    model : pm.Model or None
    data : mapping
        Observed name → ``(R, *shape)`` arrays, as returned by :func:`simulate_data`.
    start : dict, Mode or numpy.ndarray
        A point (constrained, shared by all replicates), or flat unconstrained starts
        ``(d,)`` or ``(R, d)``.
    """
    like = data_likelihood(model, space="unconstrained")
    replicates = len(next(iter(data.values())))
    if isinstance(start, np.ndarray):
        x = np.array(np.broadcast_to(start, (replicates, like.graph.size)), dtype="float64")
    else:
        x = np.tile(like.graph.flatten(start), (replicates, 1))
    logp, grad, hessian = like.logp_grad_hessian(x, data)
    active = np.ones(replicates, dtype=bool)
    iteration = 0
    while iteration < NEWTON_MAX_ITER:
        iteration += 1
        norm = np.linalg.norm(grad, axis=1)
        # Newton converges quadratically: iterate well past the convergence criterion.
        target = 1e-3 * GRADIENT_TOLERANCE * np.maximum(1.0, np.abs(logp))
        active = ~(np.isfinite(logp) & (norm <= target))
        if not active.any():
            break
        rows = np.flatnonzero(active)
        step = _newton_direction(grad[rows], hessian[rows])
        sub_data = {name: data[name][rows] for name in like.names}
        scale = np.ones(len(rows))
        pending = np.ones(len(rows), dtype=bool)
        new = (x[rows].copy(), logp[rows].copy(), grad[rows].copy(), hessian[rows].copy())
        for _ in range(LINE_SEARCH_HALVINGS):
            trial_rows = np.flatnonzero(pending)
            trial = x[rows][trial_rows] + scale[trial_rows, None] * step[trial_rows]
            with np.errstate(all="ignore"):
                t_logp, t_grad, t_hess = like.logp_grad_hessian(
                    trial, {name: value[trial_rows] for name, value in sub_data.items()}
                )
            slope = np.einsum("ij,ij->i", grad[rows][trial_rows], step[trial_rows])
            accepted = np.isfinite(t_logp) & (
                t_logp >= logp[rows][trial_rows] + 1e-4 * scale[trial_rows] * slope
            )
            accepted &= np.isfinite(t_grad).all(axis=1)
            for target, value in zip(new, (trial, t_logp, t_grad, t_hess), strict=True):
                target[trial_rows[accepted]] = value[accepted]
            pending[trial_rows[accepted]] = False
            scale[trial_rows[~accepted]] *= 0.5
            if not pending.any():
                break
        x[rows], logp[rows], grad[rows], hessian[rows] = new
        if pending.all():
            break  # no replicate can make progress
    norm = np.linalg.norm(grad, axis=1)
    converged = np.isfinite(logp) & (norm <= GRADIENT_TOLERANCE * np.maximum(1.0, np.abs(logp)))
    return BatchFit(
        x=x,
        constrained=like.to_constrained(x),
        logp=logp,
        grad_norm=norm,
        converged=converged,
        n_iter=iteration,
    )


def _newton_direction(grad: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Ascent directions ``(−H)⁻¹ g`` with ``−H`` made positive definite eigenvalue-wise."""
    eigenvalues, vectors = np.linalg.eigh(-hessian)
    magnitude = np.abs(eigenvalues)
    floor = 1e-8 * np.maximum(magnitude.max(axis=1, keepdims=True), 1.0)
    inverse = 1.0 / np.maximum(magnitude, floor)
    projected = np.einsum("rji,rj->ri", vectors, grad)
    return np.einsum("rij,rj->ri", vectors, inverse * projected)


# -- caching ----------------------------------------------------------------------------------

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cached(model: pm.Model, key, build):
    """One object per (model, key), rebuilt when the model's graphs change."""
    fingerprint = model_graph(model, space="constrained", terms="likelihood")
    entries = _CACHE.setdefault(model, {})
    cached = entries.get(key)
    if cached is None or cached[0] is not fingerprint:
        cached = (fingerprint, build(model))
        entries[key] = cached
    return cached[1]
