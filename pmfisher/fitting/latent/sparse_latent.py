r"""The Laplace marginal's pieces when the latent Hessian is sparse.

For the split :math:`f(u, \varphi)` of :mod:`pmfisher.fitting.latent.latent_split`, the conditional
precision :math:`H = -\nabla^2_{uu} f` of a hierarchical model is diagonal or block diagonal,
a random walk's banded. Here every piece of the Laplace marginal
:math:`L(\varphi) = f(\hat u, \varphi) - \tfrac12\log\det H + \tfrac{n_u}2\log 2\pi`
(:mod:`pmfisher.fitting.laplace_marginal`) is computed without an ``n_u × n_u`` matrix:

* **Curvature.** The Hessian of :math:`f` in the joint vector :math:`x = (u, \varphi)` is the
  exact compressed Hessian of :class:`~pmfisher._core.curvature.sparse_hessian.SparseHessian` (one
  batched product per star colour: the colours of ``u`` plus about one per hyperparameter).
  Its blocks are :math:`-H`, the cross Hessian :math:`M = \nabla^2_{u\varphi} f` and
  :math:`\nabla^2_{\varphi\varphi} f`. Newton steps, :math:`\log\det H` and solves come from
  CHOLMOD (symbolic analysis once, numeric factorization per point).
* **Gradient** (the implicit function theorem, as in the dense module):
  :math:`\nabla L = \nabla_\varphi f + \tfrac12 \partial_\varphi T + \tfrac12 M^\top H^{-1}
  \partial_u T` with :math:`T(x) = \sum_{(a,b) \in P} S_{ab}\,(\nabla^2_{uu} f)_{ab}` for
  :math:`S = H^{-1}` held, so that :math:`\partial\log\det H = -\partial T`. Only the entries of
  :math:`S` on :math:`H`'s pattern :math:`P` enter: the selected inverse
  (:mod:`pmfisher._core.linalg.selected_inverse`, :math:`O(\operatorname{nnz} L)` memory). Written
  on the compressed products :math:`B = \nabla^2 f\,V`, :math:`T = \sum W \odot B` with
  :math:`W` the entries of :math:`S` at their recovery sources, so :math:`\nabla T` is one
  reverse pass over the products' graph (third derivatives of :math:`f`).
* **Hessian.** With :math:`\dot x_l = (H^{-1}M e_l, e_l)` the derivative of
  :math:`(\hat u_\varphi, \varphi)` in :math:`\varphi_l` and :math:`a = H^{-1}\partial_u T`,

  .. math::

      \partial_l\partial_k L = \dot x_l^\top \nabla^2 Q\, \dot x_k
      + \tfrac12 \operatorname{tr}(H^{-1}\dot H_l H^{-1} \dot H_k), \qquad
      Q = f + \tfrac12 T + \tfrac12\, a^\top \nabla_u f \ (S, a\ \text{held}),

  where :math:`\dot H_l` is the derivative of :math:`H` along :math:`\dot x_l` (the forward
  derivative of the products, recovered on :math:`P`) and the :math:`a` term is the
  second derivative of :math:`\hat u` met by :math:`\partial_u T`. The trace needs
  :math:`H^{-1}\dot H_l`, whose entries outside the selected inverse are not zero: it lives on
  the blocks of the connected components of :math:`P` (where :math:`H^{-1}` is dense), so it
  costs :math:`\sum_c n_c^2` memory — :math:`O(\operatorname{nnz})` for a block-diagonal
  :math:`H`, :math:`n_u^2` for a band, which the memory guard refuses with a typed error.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import pushforward
from pytensor.graph.replace import graph_replace
from scipy import sparse
from scipy.sparse import csgraph
from sksparse.cholmod import CholmodNotPositiveDefiniteError, CholmodTypeConversionWarning, analyze

from pmfisher._core.compiled.compilation import compile_derived, few_calls_backend
from pmfisher._core.curvature import derivatives, memory
from pmfisher._core.curvature.colouring import recovery_sources
from pmfisher._core.curvature.sparse_hessian import SparseHessian, hessian_pattern
from pmfisher._core.curvature.sparsity import hessian_sparsity
from pmfisher._core.linalg.sparse_cholesky import SparsePositiveDefinite
from pmfisher._core.model.model_graph import model_graph

__all__ = ["JointGraph", "SparseLatent"]


class JointGraph:
    """:math:`f(u, \\varphi)` of a split as a graph of one flat ``theta = (u, φ)``: the
    interface of a model graph that the sparsity pass, the colouring and the structure rule
    read (``theta``, ``logp``, ``size``, ``model``, ``flatten``, ``companion``)."""

    def __init__(self, split):
        self.split = split
        self.model = split.graph.model
        self.size = split.n_u + split.n_phi
        self.theta = pt.vector("theta", dtype="float64", shape=(self.size,))
        [self.logp] = graph_replace(
            [split.logp],
            {split.u: self.theta[: split.n_u], split.phi: self.theta[split.n_u :]},
            strict=False,
        )
        self._companions: dict = {}

    def companion(self, build):
        if build not in self._companions:
            self._companions[build] = build(self)
        return self._companions[build]

    def flatten(self, point) -> np.ndarray:
        """``(u, φ)`` at a point keyed like ``model.initial_point()`` (value variables)."""
        unconstrained = model_graph(self.model, space="unconstrained", terms=self.split.graph.terms)
        flat = np.concatenate(
            [np.ravel(point[block.name]) for block in unconstrained.blocks]
        ).astype("float64")
        u = self.split.split(flat)[0]
        phi = self.split.split(self.split.graph.flatten(unconstrained.constrained_point(flat)))[1]
        return np.concatenate([u, phi])


def latent_hessian_is_diagonal(split) -> bool:
    """Whether the latent block of the joint Hessian's pattern is diagonal (independent
    latent entries given φ: every Newton step on u is elementwise), read from the pattern
    alone, before any colouring or product is built."""
    joint = split.companion(JointGraph)
    rows, cols, latent = _latent_entries(hessian_pattern(joint), split.n_u)
    return bool(np.all(rows[latent] == cols[latent]))


def _latent_entries(pattern, n_u: int):
    """Rows and columns of a CSC pattern's entries, and which lie in the latent block."""
    rows = pattern.indices
    cols = np.repeat(np.arange(pattern.shape[0]), np.diff(pattern.indptr))
    return rows, cols, (rows < n_u) & (cols < n_u)


class SparseLatent:
    """The sparse pieces of one split's Laplace marginal; ``split.companion(SparseLatent)``."""

    def __init__(self, split):
        self.split = split
        self.n_u = split.n_u
        self.joint = split.companion(JointGraph)
        self.joint_hessian = self.joint.companion(SparseHessian)
        # Every function of this route is called a few times per point of the search.
        self.backend = few_calls_backend(self.joint.size)
        pattern = self.joint_hessian.pattern
        rows, cols, latent = _latent_entries(pattern, self.n_u)
        self._rows, self._cols = rows[latent], cols[latent]
        source_row, source_colour = recovery_sources(pattern, self.joint_hessian.colours)
        self._all_source_row, self._all_source_colour = source_row, source_colour
        self._source_row, self._source_colour = source_row[latent], source_colour[latent]
        self._directions = np.zeros((self.joint_hessian.n_colours, self.joint.size))
        self._directions[self.joint_hessian.colours, np.arange(self.joint.size)] = 1.0
        self._symbolic = None
        elements = self.joint.companion(hessian_sparsity).intermediate_elements
        memory.require_fits(
            2 * 8 * self.joint_hessian.n_colours * max(elements, self.joint.size),
            f"the sparse Hessian of the joint density in {', '.join(split.latent)} and the "
            f"hyperparameters ({self.joint_hessian.n_colours} products over {elements} "
            "intermediate elements)",
            instead="integrate fewer variables out, or use a model with less data.",
        )

    # -- curvature and factor ---------------------------------------------------------------

    @functools.cached_property
    def _logp_and_gradient_fn(self):
        joint = self.joint
        return compile_derived(
            [joint.theta],
            [joint.logp],
            lambda: [joint.logp, derivatives.gradient(joint.logp, joint.theta)],
            recipe="log-density and gradient",
            backend=self.backend,
        )

    def _x(self, u, phi) -> np.ndarray:
        return np.concatenate([np.asarray(u, dtype="float64"), np.asarray(phi, dtype="float64")])

    def curvature(self, u, phi):
        """``f``, :math:`\\nabla_u f` and the sparse :math:`H` at ``(u, φ)``."""
        x = self._x(u, phi)
        logp, gradient = self._logp_and_gradient_fn(x)
        return float(logp), np.asarray(gradient)[: self.n_u], self.latent_block(x)

    def latent_block(self, x) -> sparse.csc_array:
        """:math:`H = -\\nabla^2_{uu} f` at the joint ``x``, on its pattern."""
        return sparse.csc_array(
            -self.joint_hessian(x, backend=self.backend)[: self.n_u, : self.n_u]
        )

    def factor(self, precision: sparse.csc_array) -> SparsePositiveDefinite | None:
        """CHOLMOD's factor of ``precision``, or ``None`` if it is not positive definite."""
        if not np.all(np.isfinite(precision.data)):
            return None
        with warnings.catch_warnings():
            # scikit-sparse 0.4 converts SciPy's csc_array to its csc_matrix, and says so.
            warnings.simplefilter("ignore", CholmodTypeConversionWarning)
            matrix = sparse.csc_matrix(precision)
            if self._symbolic is None:
                # Simplicial: the selected inverse reads the factor column by column.
                self._symbolic = analyze(matrix, mode="simplicial")
            try:
                factor = self._symbolic.cholesky(matrix)
            except CholmodNotPositiveDefiniteError:
                return None
        # A simplicial factor is LDLᵀ, which CHOLMOD completes for an indefinite matrix
        # (only a zero pivot fails): a negative pivot is what says it is not positive definite.
        if not np.all(factor.D() > 0):
            return None
        return SparsePositiveDefinite(precision, factor)

    def shifted_factor(self, precision: sparse.csc_array) -> SparsePositiveDefinite:
        """The factor of ``precision + τI`` for the smallest τ = 10^k·scale that makes it
        positive definite (as the dense module's shift)."""
        scale = max(float(np.abs(precision.diagonal()).max()), 1.0)
        identity = sparse.identity(self.n_u, format="csc")
        for power in range(-8, 17):
            factor = self.factor(sparse.csc_array(precision + 10.0**power * scale * identity))
            if factor is not None:
                return factor
        return self.factor(sparse.csc_array(scale * identity))

    # -- gradient -----------------------------------------------------------------------------

    def _weights(self, precision: SparsePositiveDefinite) -> np.ndarray:
        """:math:`W` (``theta × colours``): the selected inverse at the recovery sources of
        :math:`\\nabla^2_{uu} f`'s entries, so that :math:`T = \\sum W \\odot B`."""
        entries = precision.inverse_entries(self._rows, self._cols)
        weights = np.zeros((self.joint.size, self.joint_hessian.n_colours))
        np.add.at(weights, (self._source_row, self._source_colour), entries)
        return weights

    @functools.cached_property
    def _trace_gradient_fn(self):
        """``(x, V, W) → ∇T``: one reverse pass over the weighted Hessian products."""
        joint = self.joint
        directions = pt.matrix("directions", dtype="float64", shape=self._directions.shape)
        weights = pt.matrix("weights", dtype="float64", shape=self._directions.shape[::-1])

        def build():
            products = derivatives.hessian_matrix_product(
                joint.logp, joint.theta, directions, k=self.joint_hessian.n_colours
            )
            return derivatives.gradient((weights.T * products).sum(), joint.theta)

        return compile_derived(
            [joint.theta, directions, weights],
            [joint.logp],
            build,
            recipe="gradient of weighted Hessian products",
            backend=self.backend,
        )

    def gradient(self, u, phi, precision: SparsePositiveDefinite) -> np.ndarray:
        """:math:`\\nabla L` at ``φ`` from :math:`\\hat u` and the factor of :math:`H` there."""
        return self._gradient_and_pieces(u, phi, precision)[0]

    def _gradient_and_pieces(self, u, phi, precision: SparsePositiveDefinite):
        """:meth:`gradient` and the pieces the Hessian reuses."""
        x = self._x(u, phi)
        _, gradient = self._logp_and_gradient_fn(x)
        weights, trace_gradient, adjoint = self._trace_adjoint(x, precision)
        mixed = self.joint_hessian(x, backend=self.backend)[
            : self.n_u, self.n_u :
        ].toarray()  # M, n_u × n_φ
        value = (
            np.asarray(gradient)[self.n_u :]
            + 0.5 * trace_gradient[self.n_u :]
            + 0.5 * mixed.T @ adjoint
        )
        return value, (x, weights, adjoint, mixed)

    def _trace_adjoint(self, x, precision: SparsePositiveDefinite):
        """:math:`W`, :math:`\\nabla T` and :math:`a = H^{-1}\\partial_u T =
        -H^{-1}\\nabla_u\\log\\det H`."""
        weights = self._weights(precision)
        trace_gradient = np.asarray(self._trace_gradient_fn(x, self._directions, weights))
        return weights, trace_gradient, precision.solve(trace_gradient[: self.n_u])

    def mean_shift(self, u, phi, precision: SparsePositiveDefinite) -> np.ndarray:
        """:math:`\\tfrac12 a = -\\tfrac12 H^{-1}\\nabla_u\\log\\det H` at :math:`\\hat u`:
        the first-order shift of the conditional mean from the mode
        (:mod:`pmfisher.fitting.conditional_mean`)."""
        return 0.5 * self._trace_adjoint(self._x(u, phi), precision)[2]

    def sensitivity(self, u, phi, precision: SparsePositiveDefinite) -> np.ndarray:
        """:math:`\\partial\\hat u/\\partial\\varphi = H^{-1}M` (``n_u × n_φ``)."""
        mixed = self.joint_hessian(self._x(u, phi), backend=self.backend)[
            : self.n_u, self.n_u :
        ].toarray()
        return precision.solve(mixed)

    # -- Hessian ------------------------------------------------------------------------------

    @functools.cached_property
    def _moved_products_fn(self):
        """``(x, V, t) → ∂_t B``: the forward derivative of the products along ``t``, from
        which :math:`D^3 f[t]` is recovered on the pattern (third derivatives of ``f``)."""
        joint = self.joint
        tangent = pt.vector("tangent", dtype="float64", shape=(joint.size,))
        directions = pt.matrix("directions", dtype="float64", shape=self._directions.shape)

        def build():
            products = derivatives.hessian_matrix_product(
                joint.logp, joint.theta, directions, k=self.joint_hessian.n_colours
            )
            return pushforward(products, joint.theta, tangent)

        return compile_derived(
            [joint.theta, directions, tangent],
            [joint.logp],
            build,
            recipe="directional derivative of Hessian products",
            backend=self.backend,
        )

    @functools.cached_property
    def _trace_curvature_fn(self):
        """``(x, V, W, t) → ∇²T t`` (fourth derivatives of ``f``), one direction per call: a
        graph one forward pass larger than ``∇T``'s, rather than one per direction."""
        joint = self.joint
        tangent = pt.vector("tangent", dtype="float64", shape=(joint.size,))
        directions = pt.matrix("directions", dtype="float64", shape=self._directions.shape)
        weights = pt.matrix("weights", dtype="float64", shape=self._directions.shape[::-1])

        def build():
            products = derivatives.hessian_matrix_product(
                joint.logp, joint.theta, directions, k=self.joint_hessian.n_colours
            )
            trace_gradient = derivatives.gradient((weights.T * products).sum(), joint.theta)
            return pushforward(trace_gradient, joint.theta, tangent)

        return compile_derived(
            [joint.theta, directions, weights, tangent],
            [joint.logp],
            build,
            recipe="directional derivative of the gradient of weighted Hessian products",
            backend=self.backend,
        )

    def _recover(self, compressed: np.ndarray) -> sparse.csc_array:
        """The joint matrix on the Hessian's pattern from compressed products (colours ×
        theta), as :class:`~pmfisher._core.curvature.sparse_hessian.SparseHessian` recovers it."""
        pattern = self.joint_hessian.pattern
        values = compressed[self._all_source_colour, self._all_source_row]
        return sparse.csc_array((values, pattern.indices, pattern.indptr), shape=pattern.shape)

    def hessian(self, u, phi, precision: SparsePositiveDefinite) -> np.ndarray:
        """The exact :math:`\\nabla^2 L` (not negated); see the module docstring."""
        _, (x, weights, adjoint, mixed) = self._gradient_and_pieces(u, phi, precision)
        n_phi = self.split.n_phi
        tangents = np.vstack([precision.solve(mixed), np.eye(n_phi)])  # columns ẋ_l
        self._require_trace_memory(precision)
        # ẋᵀ∇²f ẋ + ½ ẋᵀ D³f[(a, 0)] ẋ: the joint Hessian and its derivative along (a, 0).
        along_adjoint = self._moved_products_fn(
            x, self._directions, np.concatenate([adjoint, np.zeros(n_phi)])
        )
        joint = self.joint_hessian(x, backend=self.backend) + 0.5 * self._recover(
            np.asarray(along_adjoint)
        )
        first = tangents.T @ (joint @ tangents)
        solved = []
        for tangent in tangents.T:
            # ½ ẋ_kᵀ ∇²T ẋ_l, and H⁻¹ Ḣ_l with Ḣ_l = -D³f[ẋ_l] on the latent block.
            curvature = self._trace_curvature_fn(x, self._directions, weights, tangent)
            first[:, len(solved)] += 0.5 * tangents.T @ np.asarray(curvature)
            moved = np.asarray(self._moved_products_fn(x, self._directions, tangent))
            values = -moved[self._source_colour, self._source_row]
            dot_h = sparse.csc_matrix((values, (self._rows, self._cols)), shape=(self.n_u,) * 2)
            solved.append(sparse.csr_array(precision.factor(dot_h)))
        trace = np.array([[(a * b.T).sum() for b in solved] for a in solved])
        matrix = first + 0.5 * trace
        return 0.5 * (matrix + matrix.T)

    def _require_trace_memory(self, precision: SparsePositiveDefinite) -> None:
        """:math:`H^{-1}\\dot H_l` is dense on each connected component of :math:`H`'s
        pattern: refuse when ``n_φ`` of them (and their transposes) would not fit."""
        _, labels = csgraph.connected_components(precision.matrix, directed=False)
        sizes = np.bincount(labels)
        needed = 3 * 8 * 2 * self.split.n_phi * int((sizes.astype("int64") ** 2).sum())
        memory.require_fits(
            needed,
            "the exact Hessian of the Laplace marginal on the sparse route (the products "
            f"H⁻¹·∂H of {', '.join(self.split.latent)}, dense on each of the "
            f"{sizes.size} connected blocks of H, the largest {sizes.max()} wide)",
            instead="integrate fewer or less coupled variables out, or use hyper='nuts' (which "
            "needs only the gradient).",
        )
