r"""A model's free variables split into latent variables ``u`` and the rest ``φ``.

The joint log-density :math:`f(u, \varphi)` of the chosen terms becomes a graph of two flat
vectors, ``u`` and ``phi``, so that the Laplace marginal
(:mod:`pmfisher.fitting.laplace_marginal`) can differentiate it in each separately. The latent
variables always live in the unconstrained space and carry the log-Jacobian of their
transforms there, because the Laplace approximation integrates over ``u`` in those coordinates:
:math:`\int p(y, u, \varphi)\,du = \int p(y, u(\tilde u), \varphi)\,|u'(\tilde u)|\,d\tilde u`.
``φ`` lives in the graph's ``space``; which of its terms enter follows ``terms``:

* ``"likelihood"``: the observed variables and the latent variables' own density — the
  integrand of the marginal likelihood :math:`p(y \mid \varphi) = \int p(y \mid u,
  \varphi)\,p(u \mid \varphi)\,du`;
* ``"posterior"``: those, the priors of ``φ`` (with their log-Jacobian when ``jacobian``) and
  the model's potentials.

One split is built per graph and tuple of latent names, through ``ModelGraph.companion``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.logprob.utils import replace_rvs_by_values
from pytensor.graph.replace import graph_replace
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.graph.traversal import graph_inputs

from pmfisher._core.compiled.compilation import (
    compile_derived,
    compile_function,
    few_calls_backend,
)
from pmfisher._core.compiled.rewrites import logp_terms
from pmfisher._core.compiled.stored_results import stored_result
from pmfisher._core.curvature import derivatives
from pmfisher._core.model.model_graph import Block, ModelGraph, model_graph
from pmfisher.errors import ArgumentError, UnsupportedModelError

__all__ = ["LatentSplit", "latent_split", "total_derivative_along_the_mode"]

T = TypeVar("T")


def latent_split(graph: ModelGraph, latent: Sequence[str] | str) -> LatentSplit:
    """The split of ``graph``'s model into ``latent`` and the rest, built once per graph.

    ``graph`` fixes the space and terms of ``φ``; ``latent`` names free variables (a single
    name is accepted). Names that are not continuous free variables of the model, or that
    leave nothing outside the latent set, raise a :class:`~pmfisher.errors.PMFisherError`.
    """
    names = (latent,) if isinstance(latent, str) else tuple(latent)
    return graph.companion(_Splits).get(names)


class _Splits:
    """The splits of one graph, by tuple of latent names."""

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.splits: dict[tuple[str, ...], LatentSplit] = {}

    def get(self, names: tuple[str, ...]) -> LatentSplit:
        if names not in self.splits:
            self.splits[names] = LatentSplit(self.graph, names)
        return self.splits[names]


class LatentSplit:
    """The joint log-density as a graph of ``u`` (latent, unconstrained) and ``phi``.

    Attributes
    ----------
    graph : ModelGraph
        The model's graph whose space, terms and Jacobian choice ``φ`` follows.
    latent : tuple[str, ...]
        The latent free variables, in model order.
    u_blocks, phi_blocks : tuple[Block, ...]
        Layouts of the flat ``u`` and ``phi`` (``start`` counts within each vector).
    u, phi : TensorVariable
        The flat inputs.
    logp : TensorVariable
        :math:`f(u, \\varphi)`, a scalar graph of ``u`` and ``phi``.
    element_parts : tuple[TensorVariable, ...]
        The terms of ``logp`` before they are summed, flat vectors (cached property).
    """

    def __init__(self, graph: ModelGraph, names: tuple[str, ...]):
        model = graph.model
        by_name = {rv.name: rv for rv in graph.free_rvs}
        _validate(model, names, by_name)
        latent_rvs = [rv for rv in graph.free_rvs if rv.name in names]
        phi_rvs = [rv for rv in graph.free_rvs if rv.name not in names]
        self.graph = graph
        self.latent = tuple(rv.name for rv in latent_rvs)
        unconstrained = model_graph(model, space="unconstrained", terms=graph.terms)
        self.u_blocks = _relayout(unconstrained.blocks, self.latent)
        self.phi_blocks = _relayout(graph.blocks, [rv.name for rv in phi_rvs])
        self.u_labels = tuple(label for block in self.u_blocks for label in block.labels)
        self.phi_labels = tuple(label for block in self.phi_blocks for label in block.labels)
        n_u = self.u_blocks[-1].stop
        n_phi = self.phi_blocks[-1].stop
        self.u = pt.vector("u", dtype="float64", shape=(n_u,))
        self.phi = pt.vector("phi", dtype="float64", shape=(n_phi,))
        # Where u and phi sit in the flat vectors of the model's own graphs (model order).
        self.u_index = _index(unconstrained.blocks, self.latent)
        self.phi_index = _index(graph.blocks, [rv.name for rv in phi_rvs])
        # ``u_index`` as a slice where it is contiguous: copying 1,000 draws of 20,000 entries
        # into their columns takes 0.03 s by a slice, 0.12 s by an index.
        self.u_columns = _columns(self.u_index)

        values = {}
        for rvs, blocks, flat in (
            (latent_rvs, self.u_blocks, self.u),
            (phi_rvs, self.phi_blocks, self.phi),
        ):
            for rv, block in zip(rvs, blocks, strict=True):
                values[model.rvs_to_values[rv]] = flat[block.start : block.stop].reshape(
                    block.shape
                )
        transforms = {rv: model.rvs_to_transforms.get(rv) for rv in latent_rvs}
        transforms |= {
            rv: graph.transforms[rv] if graph.space == "unconstrained" else None for rv in phi_rvs
        }

        def terms_of(rvs, jacobian):
            return logp_terms(
                rvs,
                rvs_to_values=model.rvs_to_values,
                rvs_to_transforms=transforms,
                jacobian=jacobian,
            )

        # The latent variables' Jacobian always enters: the integral is over unconstrained u.
        parts = terms_of(graph.observed_rvs + latent_rvs, True)
        if graph.terms == "posterior":
            parts += terms_of(phi_rvs, graph.jacobian)
            parts += replace_rvs_by_values(
                model.potentials, rvs_to_values=model.rvs_to_values, rvs_to_transforms=transforms
            )
        total = pt.add(*[pt.cast(part, "float64").sum() for part in parts])
        # Every free variable's full constrained value (all entries of a zero-sum vector or a
        # simplex), in model order, as a graph of (u, phi).
        constrained = replace_rvs_by_values(
            graph.free_rvs, rvs_to_values=model.rvs_to_values, rvs_to_transforms=transforms
        )
        self.logp, *self.constrained = graph_replace(
            [total, *[pt.cast(value, "float64") for value in constrained]], values, strict=False
        )
        self._parts, self._values = parts, values
        self._companions: dict = {}

    def companion(self, build: Callable[[LatentSplit], T]) -> T:
        """``build(self)``, built once per split (as ``ModelGraph.companion``)."""
        if build not in self._companions:
            self._companions[build] = build(self)
        return self._companions[build]

    @property
    def n_u(self) -> int:
        return int(self.u.type.shape[0])

    @property
    def n_phi(self) -> int:
        return int(self.phi.type.shape[0])

    @functools.cached_property
    def element_parts(self) -> tuple:
        """The log-density terms that sum to :math:`f` before they are summed, each a flat
        vector graph of ``u`` and ``phi`` (one observation's or one latent entry's
        log-density per element): :math:`f` is the sum of all their elements."""
        flat = [pt.cast(part, "float64").ravel() for part in self._parts]
        return tuple(graph_replace(flat, self._values, strict=False))

    @functools.cached_property
    def conditional_is_gaussian(self) -> bool:
        """Whether :math:`u \\mid \\varphi` is Gaussian, proven from the graph: a
        Hessian-vector product :math:`\\nabla^2_{uu} f\\,v`, rewritten, no longer depends on
        ``u``, so :math:`f` is quadratic in ``u`` (a linear mixed model's, a hierarchical normal
        model's). Then one Newton step from any point lands on :math:`\\hat u_\\varphi`, and
        the Laplace marginal is the exact marginal. A product that merely evaluates to the
        same value everywhere but still reads ``u`` gives ``False``, never a wrong ``True``.

        The product is rewritten by PyTensor's ``fast_run`` rewrites (those a compiled
        function gets, less fusion and in-place): a per-group predictor kept as a
        ``pm.Deterministic`` and indexed in the likelihood leaves the shape of that predictor
        in the product (its gradient is scattered into zeros of its shape), which only
        ``fast_run``'s shape inference takes off ``u``."""

        def decide() -> bool:
            direction = self.u.type("direction")
            gradient = derivatives.gradient(self.logp, self.u)
            product = pytensor.grad(
                (gradient * direction).sum(), self.u, disconnected_inputs="ignore"
            )
            rewritten = rewrite_graph(
                product, include=("fast_run",), exclude=("fusion", "inplace"), clone=True
            )
            return self.u not in graph_inputs([rewritten])

        return stored_result("Gaussian conditional", [self.u, self.phi], [self.logp], decide)

    @functools.cached_property
    def mixed_fn(self):
        """``(u, φ) → M = ∂²f/∂u∂φ`` (``n_u × n_φ``), forward mode over the ``n_φ``
        directions: the sensitivity :math:`\\partial\\hat u/\\partial\\varphi = H^{-1}M`
        needs it a few times a fit."""
        return compile_derived(
            [self.u, self.phi],
            [self.logp],
            lambda: derivatives.jacobian_forward(derivatives.gradient(self.logp, self.u), self.phi),
            recipe="mixed second derivatives in u and phi",
            backend=few_calls_backend(self.graph.size),
        )

    @functools.cached_property
    def constrained_fn(self):
        return compile_function([self.u, self.phi], self.constrained)

    def constrained_point(self, u: np.ndarray, phi: np.ndarray) -> dict[str, np.ndarray]:
        """Every free variable's full value in the constrained space (all entries of a
        zero-sum vector or a simplex), name → array."""
        values = self.constrained_fn(u, phi)
        return {
            rv.name: np.asarray(value, dtype="float64")
            for rv, value in zip(self.graph.free_rvs, values, strict=True)
        }

    def split(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(u, phi)`` of a flat vector of the model's graph in ``graph.space``; ``u`` is only
        meaningful when that space is the unconstrained one."""
        flat = np.asarray(flat, dtype="float64")
        return flat[..., self.u_index], flat[..., self.phi_index]


def _validate(model, names: tuple[str, ...], by_name: dict) -> None:
    if not names:
        raise ArgumentError("latent=() names no variables; pass latent=None for no latent ones.")
    for name in names:
        if name in by_name:
            continue
        if name in {rv.name for rv in model.observed_RVs}:
            reason = "an observed variable"
        elif name in model.named_vars:
            reason = "not a free random variable (a deterministic, potential or data)"
        else:
            reason = "not a variable of the model"
        raise ArgumentError(
            f"latent variable {name!r} is {reason}; latent= takes names of the model's free "
            f"random variables: {', '.join(by_name)}."
        )
    if len(set(names)) != len(names):
        raise ArgumentError(f"latent={list(names)} names a variable twice.")
    if set(names) == set(by_name):
        raise UnsupportedModelError(
            "latent= names every free variable of the model, so nothing is left to estimate; "
            "leave at least one hyperparameter out of latent=."
        )


def _relayout(blocks: Sequence[Block], names: Sequence[str]) -> tuple[Block, ...]:
    """The blocks of ``names`` (model order), restarted to count within their own vector."""
    chosen, start = [], 0
    for block in blocks:
        if block.rv_name in names:
            chosen.append(Block(block.rv_name, block.name, block.shape, start, block.labels))
            start += block.size
    return tuple(chosen)


def _index(blocks: Sequence[Block], names: Sequence[str]) -> np.ndarray:
    return np.concatenate(
        [np.arange(block.start, block.stop) for block in blocks if block.rv_name in names]
    )


def _columns(index: np.ndarray) -> slice | np.ndarray:
    if index.size and np.array_equal(index, np.arange(index[0], index[-1] + 1)):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def total_derivative_along_the_mode(pullback, u, phi, sensitivity) -> np.ndarray:
    r"""The symmetric Jacobian of a gradient graph :math:`G(u, \varphi)` along the conditional
    mode :math:`\hat u_\varphi`: row :math:`k` is :math:`\partial_\varphi G_k +
    (\partial\hat u/\partial\varphi)^\top \partial_u G_k`, with ``pullback(u, φ, e_k)``
    giving :math:`(\partial_u G_k, \partial_\varphi G_k)` and ``sensitivity`` the
    ``n_u × n_φ`` matrix :math:`\partial\hat u/\partial\varphi` — the exact Hessian of the
    Laplace marginal, one reverse pass per coordinate of :math:`\varphi`."""
    rows = []
    for unit in np.eye(np.size(phi)):
        by_u, by_phi = pullback(u, phi, unit)
        rows.append(np.asarray(by_phi) + sensitivity.T @ np.asarray(by_u))
    matrix = np.array(rows)
    return 0.5 * (matrix + matrix.T)
