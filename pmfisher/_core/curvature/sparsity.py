r"""The sparsity pattern of a log-density's Hessian, read from its PyTensor graph.

**What is computed.** The *global* Hessian sparsity of :math:`\ell(\theta)`: a set of
pairs :math:`(i, j)` that contains every pair where :math:`\partial^2\ell/\partial\theta_i
\partial\theta_j` can be nonzero at *some* θ (the "global sparsity" of
SparseConnectivityTracer.jl and asdex). It depends on the graph and its data (the values
of index arrays), not on a point: it is computed once per graph and data set, and stored.

**How.** The chain rule writes the Hessian of a scalar graph as a sum over its operations,

.. math::

    \nabla^2_\theta \ell = \sum_{\text{ops } f} \sum_k \bar f_k\,
    J_{\text{in}(f)}^\top\, \nabla^2 f_k\, J_{\text{in}(f)} ,

where :math:`\bar f_k` is the adjoint of output element :math:`k` and :math:`J_{\text{in}(f)}`
the Jacobian of the op's inputs with respect to θ. So the pattern is the union, over
operations, of the pairs of θ-entries that reach two inputs (or one input twice) between which
the op has a nonzero *local* second derivative. Two things are propagated through the graph in
topological order:

* for every variable that depends on θ, its element-wise **dependency** on θ: a sparse boolean
  matrix (rows: the variable's flattened elements, columns: θ's entries) — the pattern of its
  Jacobian (:func:`jacobian_sparsity` returns it for any graphs of θ);
* the Hessian pattern, accumulated as :math:`D_a^\top D_b` for every pair of input elements
  ``(a, b)`` an op combines nonlinearly (:math:`D` the rows of their dependencies).

Rules per operation:

* elementwise ops, with broadcasting: an output element depends on the union of its inputs'
  elements at that position; the local Hessian is read from the scalar op: none for
  ``add``/``sub``/``neg``/``switch`` (the condition has zero derivative)/``max``/``abs``
  (piecewise linear), only the cross pairs for ``mul``, numerator × denominator and
  denominator × denominator for ``true_div``, every pair for anything else. Comparisons,
  rounding and every integer- or boolean-valued output carry no dependency at all.
* data movement — indexing (``Subtensor``, ``AdvancedSubtensor``), ``DimShuffle``,
  ``Reshape``, ``Join``, ``Alloc``, parameter checks: the op itself is run on *labels* (the
  element numbers of its inputs, as floats) with the true index inputs, so every indexing
  mode the op supports is traced exactly, with no rule to get wrong. Linear.
* ``IncSubtensor`` family: the output keeps the base's dependencies and gains the
  increment's through the op's own indexing of the output's labels. Linear.
* reductions: ``Sum``, ``Max``/``Min`` are (piecewise) linear unions over the reduced axes;
  ``Prod`` is every pair within each reduced group.
* ``Dot`` of two matrices or vectors: :math:`C_{ij} = \sum_k A_{ik}B_{kj}` depends on row
  :math:`i` of :math:`A` and column :math:`j` of :math:`B`; it is bilinear, so the Hessian
  gains, for each :math:`k`, the pairs (column :math:`k` of :math:`A`) × (row :math:`k` of
  :math:`B`). Entries of a constant factor are taken as nonzero (data may change).
* anything else (a ``Blockwise`` linear-algebra op, ``Scan``, ...): every output element
  depends on every θ-entry its inputs depend on, and every pair of those is a Hessian pair —
  conservative, never a missed nonzero.

The graph analysed is the log-density after PyTensor's ``canonicalize`` and ``stabilize``
rewrites on a clone, the form that is actually differentiated after compilation (it has, for
example, PyMC's ``Check`` ops and ``switch`` guards in the shapes the rules above know). To run
data-movement ops on labels the analysis needs the values of index inputs, so the graph is
evaluated once, in Python, at the model's initial point; the pattern itself does not depend on
that point. A rewrite can only merge or simplify operations, and every rule is a superset of
the op's true local pattern, so the result is a superset of the true Hessian's nonzeros at
every θ; the tests check it against dense Hessians and check that a broken rule is caught.

Not dense probing at random points (the d × n intermediates the sparse path avoids), nor
SparseConnectivityTracer's local mode (exact at a point, not valid elsewhere).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytensor.scalar.basic as ps
from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.graph.traversal import toposort
from pytensor.raise_op import CheckAndRaise
from pytensor.tensor.basic import Alloc, ExtractDiag, Join, MakeVector, Split
from pytensor.tensor.elemwise import CAReduce, DimShuffle, Elemwise
from pytensor.tensor.math import Dot
from pytensor.tensor.shape import Reshape, SpecifyShape
from pytensor.tensor.subtensor import (
    AdvancedIncSubtensor,
    AdvancedSubtensor,
    IncSubtensor,
    Subtensor,
)
from scipy import sparse

from pmfisher._core.compiled.stored_results import stored_result
from pmfisher.errors import UnsupportedModelError

__all__ = ["HessianSparsity", "JacobianSparsity", "hessian_sparsity", "jacobian_sparsity"]

# Scalar ops whose output has zero derivative almost everywhere.
ZERO_DERIVATIVE = (
    *(ps.LogicalComparison, ps.IsNan, ps.IsInf, ps.Floor, ps.Ceil, ps.Trunc, ps.Sign),
    *(ps.RoundHalfToEven, ps.RoundHalfAwayFromZero, ps.BinaryBitOp, ps.UnaryBitOp, ps.IntDiv),
)
# Scalar ops that are linear, or piecewise linear, in every input: no local Hessian.
LINEAR = (
    ps.Add,
    ps.Sub,
    ps.Neg,
    ps.Identity,
    ps.Cast,
    ps.Switch,
    ps.Second,
    ps.Maximum,
    ps.Minimum,
    ps.Abs,
    ps.Clip,
)
# Data-movement ops: every output element is a copy of one input element (or a constant).
MOVES = (
    DimShuffle,
    Reshape,
    SpecifyShape,
    Subtensor,
    AdvancedSubtensor,
    Join,
    MakeVector,
    Alloc,
    ExtractDiag,
    Split,
    CheckAndRaise,
)
INCREMENTS = {IncSubtensor: Subtensor, AdvancedIncSubtensor: AdvancedSubtensor}


@dataclass(frozen=True)
class HessianSparsity:
    """The Hessian pattern of a graph's log-density and the sizes seen on the way.

    ``pattern`` is a symmetric boolean ``d × d`` CSC array including the diagonal;
    ``intermediate_elements`` is the total number of elements of the variables that depend on
    θ (what a batched dense derivative multiplies by ``d``).
    """

    pattern: sparse.csc_array
    intermediate_elements: int

    @property
    def density(self) -> float:
        d = self.pattern.shape[0]
        return self.pattern.nnz / d**2 if d else 0.0


def hessian_sparsity(graph) -> HessianSparsity:
    """The :class:`HessianSparsity` of ``graph.logp`` (see the module docstring), stored on
    disk for the graph and its data (:mod:`pmfisher._core.compiled.stored_results`); in memory, use
    ``graph.companion(hessian_sparsity)``. An :class:`~pmfisher.errors.UnsupportedModelError`
    if an operation cannot be evaluated in Python at the model's initial point."""

    def trace() -> HessianSparsity:
        tracer = _trace(graph, [graph.logp])
        return HessianSparsity(tracer.hessian_pattern(), tracer.elements)

    # The tracer's starting point is part of the key: the model's initial point as PyMC gives
    # it (flattening it into θ may itself need compiled functions).
    start = [value for _, value in sorted(graph.model.initial_point().items())]
    return stored_result("Hessian sparsity", [graph.theta], [graph.logp], trace, values=start)


@dataclass(frozen=True)
class JacobianSparsity:
    r"""Jacobian patterns of graphs :math:`y_k(\theta)`: the dependencies the same pass
    propagates. ``patterns[k]`` is boolean CSR, (elements of ``y_k``, flattened) × ``d``, a
    superset of the nonzeros of :math:`\partial y_k / \partial \theta` at every θ;
    ``intermediate_elements`` as for :class:`HessianSparsity` (× ``d`` for a dense Jacobian).
    """

    patterns: tuple[sparse.csr_array, ...]
    intermediate_elements: int


def jacobian_sparsity(graph, outputs) -> JacobianSparsity:
    """The :class:`JacobianSparsity` of ``outputs``, graphs of ``graph.theta``."""
    tracer = _trace(graph, list(outputs))
    patterns = []
    for output in tracer.fgraph.outputs:
        dep = tracer.deps.get(output)
        size = int(np.size(tracer._value(output)))
        patterns.append(dep if dep is not None else _empty(size, tracer.d))
    return JacobianSparsity(tuple(patterns), tracer.elements)


def _trace(graph, outputs) -> _Tracer:
    """One pass of the tracer over ``outputs`` as rewritten for compilation."""
    outputs = rewrite_graph(outputs, include=("canonicalize", "stabilize"), clone=True)
    fgraph = FunctionGraph(outputs=list(outputs), clone=False)
    start = graph.flatten(graph.model.initial_point())
    tracer = _Tracer(fgraph, graph.theta, start)
    tracer.run()
    return tracer


class _Tracer:
    """One pass over a function graph: values, dependencies and the Hessian pattern."""

    def __init__(self, fgraph: FunctionGraph, theta, start: np.ndarray):
        self.fgraph = fgraph
        self.d = start.size
        self.values: dict = {theta: start}
        self.deps: dict = {theta: sparse.identity(self.d, dtype=bool, format="csr")}
        self.hessian: list[sparse.csr_array] = []
        self.elements = 0

    def run(self) -> None:
        remaining = {var: len(clients) for var, clients in self.fgraph.clients.items()}
        outputs = set(self.fgraph.outputs)
        for node in toposort(self.fgraph.outputs):
            inputs = [self._value(var) for var in node.inputs]
            try:
                outputs_values = _perform(node, inputs)
            except Exception as error:
                raise UnsupportedModelError(
                    "the sparsity pattern cannot be read from the graph: "
                    f"evaluating {node.op} at the model's initial point failed ({error})."
                ) from error
            for var, value in zip(node.outputs, outputs_values, strict=True):
                self.values[var] = value
            if any(self.deps.get(var) is not None for var in node.inputs):
                for var, dep in zip(node.outputs, self._propagate(node, inputs), strict=True):
                    if dep is not None and not _discrete(var):
                        self.deps[var] = dep
                        self.elements += dep.shape[0]
            for var in node.inputs:  # free what no later op reads
                remaining[var] = remaining.get(var, 1) - 1
                if remaining[var] == 0 and var not in outputs:
                    self.values.pop(var, None)
                    self.deps.pop(var, None)

    def hessian_pattern(self) -> sparse.csc_array:
        pattern = sparse.identity(self.d, dtype=bool, format="csr")
        for part in self.hessian:
            pattern = pattern + part + part.T
        return sparse.csc_array(pattern, dtype=bool)

    def _value(self, var):
        if var in self.values:
            return self.values[var]
        if isinstance(var, Constant):
            return var.data
        return var.get_value(borrow=True)  # a shared variable (a data container)

    def _dep(self, var, size: int):
        dep = self.deps.get(var)
        return dep if dep is not None else _empty(size, self.d)

    def _add_pairs(self, left, right) -> None:
        """Record :math:`L^\\top R`: every θ-pair reaching a row of ``left`` and the same row
        of ``right``."""
        product = _cross(left, right)
        if product.nnz:
            self.hessian.append(product)

    # -- rules ------------------------------------------------------------------------------

    def _propagate(self, node, inputs):
        op = node.op
        if isinstance(op, Elemwise):
            return [self._elementwise(node, inputs)]
        if isinstance(op, MOVES):
            try:
                return self._moves(node, inputs)
            except (ValueError, TypeError, IndexError, NotImplementedError):
                # The op refused float labels (a dtype check): the conservative rule.
                return self._fallback(node, inputs)
        if type(op) in INCREMENTS:
            return [self._increment(node, inputs)]
        if isinstance(op, CAReduce):
            return [self._reduction(node, inputs)]
        if isinstance(op, Dot) and all(np.ndim(value) in (1, 2) for value in inputs):
            return [self._dot(node, inputs)]
        return self._fallback(node, inputs)

    def _elementwise(self, node, inputs):
        scalar = node.op.scalar_op
        output_shape = np.shape(self.values[node.outputs[0]])
        if isinstance(scalar, ZERO_DERIVATIVE) or _discrete(node.outputs[0]):
            return None
        positions = [
            i
            for i, var in enumerate(node.inputs)
            if self.deps.get(var) is not None and not _discrete(var)
        ]
        if isinstance(scalar, ps.Switch):
            positions = [i for i in positions if i != 0]
        if isinstance(scalar, ps.Second):
            positions = [i for i in positions if i == 1]
        if not positions:
            return None
        expanded = {
            i: _broadcast_rows(self.deps[node.inputs[i]], np.shape(inputs[i]), output_shape)
            for i in positions
        }
        if isinstance(scalar, LINEAR):
            pairs = []
        elif isinstance(scalar, ps.Mul):
            pairs = [(i, j) for i in positions for j in positions if i < j]
        elif isinstance(scalar, ps.TrueDiv):
            pairs = [(i, 1) for i in positions if 1 in positions]
        else:
            pairs = [(i, j) for i in positions for j in positions if i <= j]
        for i, j in pairs:
            self._add_pairs(expanded[i], expanded[j])
        return _union(list(expanded.values()), self.d)

    def _moves(self, node, inputs):
        """Run the op on labels: float inputs become their element numbers (offset per input),
        index inputs keep their values."""
        labelled, stacked, offset = [], [], 0
        for var, value in zip(node.inputs, inputs, strict=True):
            if _discrete(var):
                labelled.append(value)
                continue
            size = int(np.size(value))
            labelled.append((offset + np.arange(size, dtype="float64")).reshape(np.shape(value)))
            stacked.append(self._dep(var, size))
            offset += size
        sources = sparse.vstack(stacked, format="csr")
        results = []
        for out in _perform(node, labelled):
            if out is None or np.size(out) == 0:
                results.append(_empty(int(np.size(out)), self.d))
                continue
            rows = np.rint(np.asarray(out, dtype="float64")).astype(np.int64).ravel()
            results.append(sources[rows])
        return results

    def _increment(self, node, inputs):
        """``x[idx] += y`` (or ``=``): keep ``x``'s dependencies, add ``y``'s at the
        positions the op's own indexing of the output's labels names (repeats included)."""
        base, increment, *indices = node.inputs
        shape = np.shape(self.values[node.outputs[0]])
        size = int(np.prod(shape, dtype=int))
        result = self._dep(base, size)
        if self.deps.get(increment) is None:
            return result
        gather = INCREMENTS[type(node.op)](node.op.idx_list)
        gather_node = gather.make_node(node.outputs[0], *indices)
        [destinations] = _perform(gather_node, [np.arange(size).reshape(shape), *inputs[2:]])
        destinations = np.asarray(destinations)
        y_shape = np.shape(inputs[1])
        sources = np.broadcast_to(
            np.arange(int(np.prod(y_shape, dtype=int))).reshape(y_shape), destinations.shape
        )
        scatter = sparse.csr_array(
            (np.ones(destinations.size, dtype=bool), (destinations.ravel(), sources.ravel())),
            shape=(size, int(np.prod(y_shape, dtype=int))),
        )
        return _union([result, scatter @ self.deps[increment]], self.d)

    def _reduction(self, node, inputs):
        [value] = inputs
        shape = np.shape(value)
        axes = node.op.axis if node.op.axis is not None else tuple(range(len(shape)))
        kept = tuple(1 if axis in axes else length for axis, length in enumerate(shape))
        targets = np.broadcast_to(
            np.arange(int(np.prod(kept, dtype=int))).reshape(kept), shape
        ).ravel()
        gather = sparse.csr_array(
            (np.ones(targets.size, dtype=bool), (targets, np.arange(targets.size))),
            shape=(int(np.prod(kept, dtype=int)), targets.size),
        )
        result = (gather @ self.deps[node.inputs[0]]).astype(bool)
        if not isinstance(node.op.scalar_op, LINEAR):
            self._add_pairs(result, result)
        return result

    def _dot(self, node, inputs):
        """``C = A @ B`` with vectors read as a row (left) or a column (right)."""
        a, b = inputs
        a_shape = (1, a.shape[0]) if np.ndim(a) == 1 else a.shape
        b_shape = (b.shape[0], 1) if np.ndim(b) == 1 else b.shape
        (rows, inner), columns = a_shape, b_shape[1]
        dep_a = self._dep(node.inputs[0], rows * inner)
        dep_b = self._dep(node.inputs[1], inner * columns)
        # Unions of A over its columns (for C's rows) and of B over its rows (for C's columns).
        a_rows = _group_union(dep_a, np.repeat(np.arange(rows), inner), rows)
        b_columns = _group_union(dep_b, np.tile(np.arange(columns), inner), columns)
        if self.deps.get(node.inputs[0]) is not None and self.deps.get(node.inputs[1]) is not None:
            a_inner = _group_union(dep_a, np.tile(np.arange(inner), rows), inner)
            b_inner = _group_union(dep_b, np.repeat(np.arange(inner), columns), inner)
            self._add_pairs(a_inner, b_inner)
        by_row = a_rows[np.repeat(np.arange(rows), columns)]
        by_column = b_columns[np.tile(np.arange(columns), rows)]
        return _union([by_row, by_column], self.d)

    def _fallback(self, node, inputs):
        """Every output element depends on everything any input depends on, nonlinearly."""
        touched = _union(
            [
                sparse.csr_array(np.asarray(self.deps[var].sum(axis=0)).reshape(1, -1) > 0)
                for var in node.inputs
                if self.deps.get(var) is not None
            ],
            self.d,
        )
        self._add_pairs(touched, touched)
        results = []
        for var in node.outputs:
            size = int(np.size(self.values[var]))
            results.append(touched[np.zeros(size, dtype=np.int64)])
        return results


# -- helpers ------------------------------------------------------------------------------


def _perform(node, inputs) -> list:
    """The node's outputs for the given input values, through the op's Python implementation."""
    storage = {var: [value] for var, value in zip(node.inputs, inputs, strict=True)}
    storage.update({var: [None] for var in node.outputs})
    computed = {var: [True] for var in node.inputs}
    computed.update({var: [False] for var in node.outputs})
    thunk = node.op.make_py_thunk(node, storage, computed, [])
    thunk()
    return [storage[var][0] for var in node.outputs]


def _discrete(var) -> bool:
    dtype = getattr(var.type, "dtype", None)
    return dtype is None or not (dtype.startswith("float") or dtype.startswith("complex"))


def _empty(size: int, d: int) -> sparse.csr_array:
    return sparse.csr_array((size, d), dtype=bool)


def _union(parts, d: int) -> sparse.csr_array:
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = result + part
    return sparse.csr_array(result, dtype=bool)


def _broadcast_rows(dep, shape, output_shape) -> sparse.csr_array:
    """Rows of ``dep`` (a variable of ``shape``) for each element of its broadcast."""
    if tuple(shape) == tuple(output_shape):
        return dep
    padded = (1,) * (len(output_shape) - len(shape)) + tuple(shape)
    rows = np.broadcast_to(np.arange(dep.shape[0]).reshape(padded), output_shape).ravel()
    return dep[rows]


def _group_union(dep, groups: np.ndarray, n_groups: int) -> sparse.csr_array:
    """Row ``g`` is the union of the rows of ``dep`` in group ``g``."""
    gather = sparse.csr_array(
        (np.ones(groups.size, dtype=bool), (groups, np.arange(groups.size))),
        shape=(n_groups, groups.size),
    )
    return sparse.csr_array(gather @ dep, dtype=bool)


@functools.cache
def _column_hashes(d: int) -> np.ndarray:
    return np.random.default_rng(d).integers(1, 2**62, size=(2, d), dtype=np.uint64)


def _cross(left, right) -> sparse.csr_array:
    """Pattern of ``left.T @ right`` over the distinct pairs of rows (most rows repeat: every
    observation of a group depends on the same parameters)."""
    keep = np.flatnonzero((np.diff(left.indptr) > 0) & (np.diff(right.indptr) > 0))
    if keep.size == 0:
        return sparse.csr_array((left.shape[1], right.shape[1]), dtype=bool)
    left, right = left[keep], right[keep]
    (first_left, check_left), (first_right, check_right) = _row_keys(left), _row_keys(right)
    with np.errstate(over="ignore"):
        key = first_left * np.uint64(0x9E3779B97F4A7C15) + first_right
    _, distinct, inverse = np.unique(key, return_index=True, return_inverse=True)
    # A second, independent hash confirms every merge; should two rows ever collide in the
    # first, nothing is merged.
    if np.any(check_left[distinct][inverse] != check_left) or np.any(
        check_right[distinct][inverse] != check_right
    ):
        distinct = slice(None)
    left, right = left[distinct], right[distinct]
    # int64 counts: int8 wraps to zero at 256 shared rows, and SciPy drops zeros (an entry lost).
    return sparse.csr_array(left.T.astype(np.int64) @ right.astype(np.int64), dtype=bool)


def _row_keys(matrix: sparse.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each (nonempty) row's set of columns; the second
    also mixes in the row's count."""
    starts = matrix.indptr[:-1]
    counts = np.diff(matrix.indptr).astype(np.uint64)
    first, second = (
        np.add.reduceat(h[matrix.indices], starts) for h in _column_hashes(matrix.shape[1])
    )
    with np.errstate(over="ignore"):
        return first, second * np.uint64(0xBF58476D1CE4E5B9) + counts
