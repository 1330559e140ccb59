r"""Draws of a Laplace approximation pushed through the model, and the result's DataTree.

Both the joint Laplace approximation (:mod:`pmfisher.approximation.laplace`) and the nested
one (:mod:`pmfisher.approximation.nested_laplace`) draw flat parameter vectors and need the
same two things done with them: every free variable (in both spaces), every deterministic
and, for the joint one, the model's log-density at each draw, computed for all draws at once
by one vectorized compiled function (:class:`Pushforward`); and the result assembled as an
:class:`xarray.DataTree` laid out as :mod:`pmfisher.approximation.laplace` describes
(:func:`laplace_datatree`).
"""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.backends.arviz import (
    coords_and_dims_for_inferencedata,
    find_constants,
    find_observations,
)
from pymc.logprob.utils import local_check_parameter_to_ninf_switch
from pytensor.graph import vectorize_graph
from pytensor.graph.rewriting.basic import in2out
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.tensor.rewriting.basic import local_view_op

from pmfisher._core.compiled.compilation import compile_derived, few_calls_backend
from pmfisher._core.first_use import import_on_first_use
from pmfisher._core.model.model_graph import ModelGraph, model_graph

__all__ = ["Pushforward", "laplace_datatree", "pushforward", "values_pushforward"]

# Draws are pushed forward in chunks whose estimated working memory stays below this.
PUSHFORWARD_BYTES = 256 * 2**20
# Live intermediates of the vectorized log-density per observation and draw, in float64s:
# the linear predictor, the residual, its square and the elementwise log-density, with room.
INTERMEDIATES_PER_OBSERVATION = 8


def pushforward(graph: ModelGraph) -> Pushforward:
    """The push-forward of ``graph``'s draws, with the log-density (built once per graph)."""
    return graph.companion(Pushforward)


def values_pushforward(graph: ModelGraph) -> ValuesPushforward:
    """The push-forward of ``graph``'s draws, without the log-density."""
    return graph.companion(ValuesPushforward)


class Pushforward:
    """Flat draws in the graph's space → ``log_p``, every free variable in both spaces and
    every deterministic, for all draws at once (one compiled function, built once)."""

    # The model's log-density is among the outputs (the costly one: its graph over all the
    # observations, vectorized over draws).
    with_log_p = True

    def __init__(self, graph: ModelGraph):
        model = graph.model
        self.graph = graph
        self.free_names = [rv.name for rv in graph.free_rvs]
        self.unconstrained_blocks = model_graph(
            model, space="unconstrained", terms=graph.terms
        ).blocks
        self.deterministics = list(graph.deterministics)

    @functools.cached_property
    def function(self):
        graph = self.graph
        deterministics = list(graph.deterministics.values())
        # Free variables are pushed forward whole (all K entries of a simplex).
        outputs = [graph.unconstrained, *graph.point_values, *deterministics]
        if self.with_log_p:
            outputs.insert(0, graph.logp)
        thetas = pt.matrix("thetas", dtype="float64")

        def batched():
            # A draw outside the support must give log p = -inf, not stop the whole batch;
            # a deterministic's view (which has no batched form) is the value itself.
            checked = rewrite_graph(
                outputs,
                include=(),
                custom_rewrite=in2out(local_check_parameter_to_ninf_switch, local_view_op),
                clone=True,
            )
            return vectorize_graph(checked, replace={graph.theta: thetas})

        return compile_derived(
            [thetas],
            outputs,
            batched,
            recipe="Laplace draws pushed forward" + ("" if self.with_log_p else ", no log p"),
            replaced=[graph.theta],
            # Called once per call of laplace(), on 1,000 draws by default.
            backend=few_calls_backend(graph.size, observations=1000 * self.observations),
        )

    @functools.cached_property
    def observations(self) -> int:
        return sum(int(np.size(value)) for value in find_observations(self.graph.model).values())

    def chunk_size(self, draws: int, outputs_per_draw: int) -> int:
        """Draws per chunk: the working memory of a chunk — standard normals, draws and
        outputs, and the vectorized log-density's intermediates over the observations —
        estimated to stay within ``PUSHFORWARD_BYTES``."""
        floats = (
            2 * self.graph.size
            + outputs_per_draw
            + INTERMEDIATES_PER_OBSERVATION * self.observations
        )
        return int(np.clip(PUSHFORWARD_BYTES // (8 * floats), 1, draws))

    def draw(self, mean: np.ndarray, precision, draws: int, rng):
        r"""``draws`` draws of :math:`\mathcal N(\text{mean}, \text{precision}^{-1})` pushed
        forward, in chunks of draws (:meth:`chunk_size`), and their :math:`\log q`.

        The standard normals are drawn chunk after chunk from ``rng``, which gives the same
        numbers as drawing them all at once, so the chunking never changes a draw; a
        pushed-forward value may change in its last digits with the chunk size (a BLAS matrix
        product over a chunk of draws may sum in an order that depends on its shape).
        """
        size = self.graph.size
        normalization = 0.5 * precision.log_determinant - 0.5 * size * np.log(2 * np.pi)
        log_q = np.empty(draws)
        pushed, chunk, start = {}, 1, 0
        while start < draws:
            stop = min(start + chunk, draws)
            standard = rng.standard_normal((stop - start, size))
            log_q[start:stop] = normalization - 0.5 * np.einsum("sd,sd->s", standard, standard)
            values = self(mean + precision.deviations(standard))
            if not pushed:
                pushed = {
                    name: np.empty((draws, *value.shape[1:]), dtype=value.dtype)
                    for name, value in values.items()
                }
                per_draw = sum(value[0].size for value in values.values())
                chunk = self.chunk_size(draws, per_draw)
            for name, value in values.items():
                pushed[name][start:stop] = value
            start = stop
        return pushed, log_q

    def __call__(self, thetas: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            outputs = self.function(thetas)
        if self.with_log_p:
            log_p, unconstrained, *rest = outputs
            pushed = {"log_p": np.asarray(log_p, dtype="float64")}
        else:
            (unconstrained, *rest), pushed = outputs, {}
        draws = thetas.shape[0]
        for name, values in zip(self.free_names, rest, strict=False):
            pushed[name] = np.asarray(values, dtype="float64")
        for block in self.unconstrained_blocks:
            values = unconstrained[:, block.start : block.stop].reshape(draws, *block.shape)
            pushed["unconstrained/" + block.name] = values
        for name, values in zip(self.deterministics, rest[len(self.free_names) :], strict=True):
            pushed[name] = np.asarray(values)
        return pushed


class ValuesPushforward(Pushforward):
    """:class:`_Pushforward` without ``log_p``: the values alone, for a caller that computes
    its own density over the draws (the nested Laplace's joint :math:`f(u, \\varphi)`)."""

    with_log_p = False


# -- the DataTree ---------------------------------------------------------------------------


def laplace_datatree(model, graph, pushed, stats, fit, attrs, *, chains: int = 1) -> xr.DataTree:
    """The result's DataTree from flat draws (``chains`` chains one after the other)."""
    coords, dims = coords_and_dims_for_inferencedata(model)

    def by_chain(values):
        return np.asarray(values).reshape(chains, -1, *np.shape(values)[1:])

    constrained, unconstrained = {}, {}
    for name, values in pushed.items():
        if name.startswith("unconstrained/"):
            unconstrained[name.removeprefix("unconstrained/")] = by_chain(values)
        else:
            constrained[name] = by_chain(values)
    # A value variable keeps its random variable's dims when the transform keeps the shape.
    unconstrained_dims = {}
    for rv in graph.free_rvs:
        value_name = model.rvs_to_values[rv].name
        rv_dims = dims.get(rv.name)
        if rv_dims and unconstrained[value_name].shape == constrained[rv.name].shape:
            unconstrained_dims[value_name] = rv_dims

    # 0.2 s, imported when a DataTree is first built
    dict_to_dataset = import_on_first_use("arviz_base").dict_to_dataset

    def dataset(data, dims, **kwargs):
        return dict_to_dataset(data, inference_library=pm, coords=coords, dims=dims, **kwargs)

    groups = {
        "posterior": dataset(constrained, dims, attrs=attrs),
        "unconstrained_posterior": dataset(unconstrained, unconstrained_dims),
        "fit": fit,
        "sample_stats": dataset({name: by_chain(value) for name, value in stats.items()}, {}),
        "observed_data": dataset(find_observations(model), dims, sample_dims=[]),
        "constant_data": dataset(find_constants(model), dims, sample_dims=[]),
    }
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = dict(attrs)
    return tree
