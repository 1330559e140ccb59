"""Simulating data sets from a model's own forward graph.

:class:`Simulator` (:func:`simulator`) draws replicate data sets of every observed variable,
with the free variables replaced by a point and covariates / ``pm.Data`` containers held
fixed. One compiled function draws all replicates at once: the forward graph is vectorized
over a leading replicate axis of the (constrained, flat) parameter vector.
"""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.custom import CustomDistRV
from pymc.distributions.distribution import SymbolicRandomVariable
from pytensor.graph.basic import Constant
from pytensor.graph.replace import _vectorize_node, clone_replace, graph_replace
from pytensor.graph.traversal import ancestors, toposort
from pytensor.tensor import get_vector_length
from pytensor.tensor.random.op import RandomVariable
from pytensor.tensor.random.type import RandomGeneratorType
from pytensor.tensor.type_other import NoneTypeT

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import ModelGraph, model_graph, resolve_model
from pmfisher.errors import UnsupportedModelError

__all__ = ["Simulator", "require_forward_samplers", "simulate_data", "simulator"]


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
    return model_graph(model, space="constrained", terms="likelihood").companion(Simulator)


class Simulator:
    """Forward simulation of all observed variables, vectorized over replicates.

    ``draw(theta_batch, random_seed)`` takes one flat constrained parameter vector per
    replicate (``(R, d)``; repeat a point to draw ``R`` data sets at it) and returns observed
    name → ``(R, *shape)`` arrays.
    """

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.names = tuple(rv.name for rv in self.graph.observed_rvs)

    @functools.cached_property
    def _function(self):
        graph = self.graph
        draws = graph.of_theta(graph.observed_rvs, observed="random")
        theta_batch = pt.matrix("theta_batch", dtype="float64")
        try:
            batched = _vectorize_draws(draws, graph.theta, theta_batch)
            one_at_a_time = False
        except NotImplementedError:
            # A sampler that PyTensor cannot vectorize (the rejection loop, a Scan, of a
            # hurdle's truncated count) draws one data set per call instead.
            batched, theta_batch, one_at_a_time = draws, graph.theta, True
        # Random generators become inputs, so that a seed fixes the numbers and compiled
        # functions hold no random state.
        shared_rngs = [
            var
            for var in ancestors(batched)
            if isinstance(var.type, RandomGeneratorType) and not isinstance(var, Constant)
        ]
        rng_inputs = [rng.type(f"rng_{i}") for i, rng in enumerate(shared_rngs)]
        batched = graph_replace(batched, dict(zip(shared_rngs, rng_inputs, strict=True)))
        function = compile_function([theta_batch, *rng_inputs], batched)
        return function, len(rng_inputs), one_at_a_time

    def draw(self, theta_batch: np.ndarray, random_seed=None) -> dict[str, np.ndarray]:
        """Observed name → ``(R, *shape)`` draws, one data set per row of ``theta_batch``."""
        theta_batch = np.ascontiguousarray(theta_batch, dtype="float64")
        function, n_rngs, one_at_a_time = self._function
        try:
            if one_at_a_time:
                # Fresh generators per data set: a compiled draw does not advance its input.
                generators = np.random.default_rng(random_seed).spawn(n_rngs * len(theta_batch))
                rows = [
                    function(row, *generators[i * n_rngs : (i + 1) * n_rngs])
                    for i, row in enumerate(theta_batch)
                ]
                values = [np.stack(column) for column in zip(*rows, strict=True)]
            else:
                values = function(theta_batch, *np.random.default_rng(random_seed).spawn(n_rngs))
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
    if size.type.ndim > 1:
        # A size computed from the shape of a batched graph (a mixture's component index
        # drawn with the weights' shape) has one equal row per replicate.
        size = size[0]
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
            "sampler: data cannot be simulated from the model, and they are not likelihood "
            "terms (terms='likelihood' leaves them out). Write the likelihood as an observed "
            "distribution (pm.CustomDist with random= or dist=)."
        )
    for rv in model.observed_RVs:
        op = rv.owner.op
        random_fn = getattr(type(op), "_random_fn", None)
        if isinstance(op, CustomDistRV) and "default_not_implemented" in getattr(
            random_fn, "__qualname__", ""
        ):
            raise UnsupportedModelError(
                f"the observed variable {rv.name} is a CustomDist without a forward sampler: "
                "data cannot be simulated from it, and its distribution has no closed-form "
                "Fisher information either. Give pm.CustomDist a random= function or a dist= "
                "graph; the observed information (pmfisher.observed_information) needs neither."
            )
