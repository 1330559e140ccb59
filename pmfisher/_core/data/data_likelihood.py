"""A model's likelihood as a function of the parameters *and* the observed data.

:class:`DataLikelihood` (:func:`data_likelihood`) is the likelihood graph of a
:class:`~pmfisher._core.model.model_graph.ModelGraph` with its observed values replaced by symbolic
inputs and vectorized over a leading replicate axis of both the parameters and the data, so
that log-likelihoods, gradients, Hessians, per-observation scores and per-observation
Hessians are evaluated for a batch of (θ, data set) pairs in one call, chunked over
replicates and parameter directions so that no intermediate exceeds the element budget of
:mod:`pmfisher._core.curvature.memory` (or, where one replicate and one direction alone would not
fit in memory, raising :class:`~pmfisher.errors.InsufficientMemoryError` before building it).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.gradient import pushforward
from pytensor.graph import vectorize_graph
from pytensor.graph.replace import graph_replace

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.compiled.rewrites import logp_terms
from pmfisher._core.curvature import derivatives, memory
from pmfisher._core.model.model_graph import ModelGraph, model_graph
from pmfisher._core.options import Space
from pmfisher.errors import ArgumentError

__all__ = ["DataLikelihood", "data_likelihood"]

# What to do when one replicate's (or one direction's) batched intermediate would not fit.
_INSTEAD = "use fewer observations (or parameters), or a machine with more memory."


def data_likelihood(model: pm.Model | None = None, *, space: Space = "constrained"):
    """The cached :class:`DataLikelihood` of ``model``'s likelihood in ``space``."""
    graph = model_graph(model, space=space, terms="likelihood")
    return graph.companion(DataLikelihood)


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
        rvs_to_values = {rv: graph.rvs_to_values[rv] for rv in graph.free_rvs}
        rvs_to_values.update({rv: self.data[rv.name] for rv in graph.observed_rvs})
        terms = logp_terms(
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
        # Batched functions whose graph failed at run time (see ``_directional``).
        self._unbatchable: set[str] = set()

    # -- data ----------------------------------------------------------------------------

    @functools.cached_property
    def _observed_values_fn(self):
        return compile_function([], [pt.as_tensor(v) for v in self.graph.data_inputs.values()])

    @property
    def observed_data(self) -> dict[str, np.ndarray]:
        """The model's own observed values as they are now (after any ``pm.set_data``),
        observed name → array."""
        values = self._observed_values_fn()
        return {name: np.asarray(value) for name, value in zip(self.names, values, strict=True)}

    def observed_batch(self, replicates: int = 1) -> dict[str, np.ndarray]:
        """The observed data repeated along a leading replicate axis."""
        return {
            name: np.broadcast_to(value, (replicates, *value.shape))
            for name, value in self.observed_data.items()
        }

    @property
    def n_elements(self) -> int:
        """Number of observed elements now, summed over observed variables."""
        return int(sum(value.size for value in self.observed_data.values()))

    # -- compiled functions --------------------------------------------------------------

    def _vectorized(self, outputs):
        """Graphs of (θ, one data set) → graphs of (θ batch, data batch), replicate first."""
        replace = {self.graph.theta: self.theta_batch}
        replace.update({self.data[name]: self.data_batch[name] for name in self.names})
        with self.graph.explaining("the likelihood batched over simulated data sets"):
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
    def _observation_hessian_columns(self):
        """(θ, directions (k, d), one data set) → (k, n, d): per-observation Hessians
        applied to each direction, by forward mode over the per-observation scores."""
        theta = self.graph.theta
        scores = derivatives.jacobian_forward(self.pointwise, theta)
        tangent = theta.type("tangent")
        directional = pushforward(scores, theta, tangent)
        [columns] = vectorize_graph([directional], replace={tangent: self._directions})
        return columns

    @functools.cached_property
    def _observation_hessians_fn(self):
        """The per-observation Hessian columns batched over replicates: (R, k, n, d)."""
        return self._batched([self._observation_hessian_columns], [self._directions])

    @functools.cached_property
    def _single_observation_hessians_fn(self):
        """The per-observation Hessian columns of one data set, without a replicate axis."""
        inputs = [self.graph.theta, self._directions, *self.data.values()]
        return compile_function(inputs, self._observation_hessian_columns)

    @functools.cached_property
    def _constrained_fn(self):
        batched = vectorize_graph(
            self.graph.constrained, replace={self.graph.theta: self.theta_batch}
        )
        return compile_function([self.theta_batch], batched)

    # -- evaluation ----------------------------------------------------------------------

    def _replicate_chunks(self, replicates: int, per_replicate: int, what: str):
        step = memory.chunk_length(replicates, per_replicate, what, instead=_INSTEAD)
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
            raise ArgumentError(f"the data are missing observed variable(s) {', '.join(missing)}.")
        for name in self.names:
            if len(data[name]) != len(theta_batch):
                raise ArgumentError(
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
            for chunk in self._replicate_chunks(
                len(theta_batch), self.n_elements * d, "the Hessian of one data set's likelihood"
            )
        ]
        logp, grad, hessian = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
        return logp, grad, hessian

    def observation_scores(self, theta_batch, data) -> np.ndarray:
        """Per-observation scores ``(R, n, d)``, chunked over replicates and directions."""
        self.graph.require_elementwise()
        theta_batch = self._check(theta_batch, data)
        return self._directional(
            ("_scores_fn", "_observed_scores_fn"),
            theta_batch,
            data,
            self.n_elements,
            "per-observation scores",
        )

    def observed_scores(self, x) -> np.ndarray:
        """Per-observation scores ``(n, d)`` of the model's own data at the flat ``x``,
        chunked over parameter directions."""
        self.graph.require_elementwise()
        x = np.asarray(x, dtype="float64")
        data = [
            np.asarray(self.observed_data[name], dtype=self.data[name].dtype) for name in self.names
        ]
        d = self.graph.size
        memory.require_fits(
            8 * self.n_elements * d, f"the {self.n_elements} × {d} scores", instead=_INSTEAD
        )
        step = memory.chunk_length(
            d, self.n_elements, "the scores in one parameter direction", instead=_INSTEAD
        )
        identity = np.eye(d)
        blocks = [
            np.asarray(self._observed_scores_fn(x, identity[start : start + step], *data))
            for start in range(0, d, step)
        ]
        return np.concatenate(blocks, axis=0).T

    def observation_hessians(self, theta_batch, data) -> np.ndarray:
        """Per-observation Hessians ``(R, n, d, d)``, chunked over replicates and directions."""
        self.graph.require_elementwise()
        theta_batch = self._check(theta_batch, data)
        d = self.graph.size
        return self._directional(
            ("_observation_hessians_fn", "_single_observation_hessians_fn"),
            theta_batch,
            data,
            self.n_elements * d,
            "per-observation Hessians",
        )

    def _directional(
        self, functions: tuple[str, str], theta_batch, data, per_direction: int, what: str
    ) -> np.ndarray:
        """Evaluate a function of unit directions, chunking directions then replicates, and
        put the direction axis after the observation axis.

        ``functions`` names the compiled function batched over replicates and the one of a
        single data set. The single one serves one replicate (no batched operations: faster)
        and every replicate where the batched graph fails at run time: PyTensor's
        ``vectorize_graph`` of the forward-over-forward derivatives of some likelihoods
        (OrderedLogistic: the shape arithmetic of the gradient of its ``Join`` of cumulative
        probabilities, batched, meets a length-1 axis not marked broadcastable) raises an
        ``AssertionError`` that the unbatched graph does not.
        """
        d = self.graph.size
        identity = np.eye(d)
        memory.require_fits(
            8 * len(theta_batch) * per_direction * d,
            f"the {what} of {len(theta_batch)} data set(s)",
            instead=_INSTEAD,
        )
        step = memory.chunk_length(
            d, per_direction, f"the {what} in one parameter direction", instead=_INSTEAD
        )
        direction_chunks = [identity[start : start + step] for start in range(0, d, step)]
        batched, single = functions
        if len(theta_batch) > 1 and batched not in self._unbatchable:
            try:
                return self._directional_batched(
                    getattr(self, batched),
                    theta_batch,
                    data,
                    direction_chunks,
                    per_direction * step,
                    what,
                )
            except AssertionError:
                self._unbatchable.add(batched)
        function = getattr(self, single)
        out = []
        for replicate, theta in enumerate(theta_batch):
            args = self._data_args(data, slice(replicate, replicate + 1))
            blocks = [
                np.asarray(function(theta, directions, *(arg[0] for arg in args)))
                for directions in direction_chunks
            ]
            out.append(np.moveaxis(np.concatenate(blocks, axis=0), 0, 1))
        return np.stack(out)

    def _directional_batched(
        self, function, theta_batch, data, direction_chunks, per_replicate: int, what: str
    ):
        out = []
        for chunk in self._replicate_chunks(
            len(theta_batch), per_replicate, f"the {what} of one data set"
        ):
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
