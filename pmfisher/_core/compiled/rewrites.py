"""Graph rewrites pmfisher adds to PyTensor's compilation pipeline (see :mod:`.compilation`).

PyTensor's stabilizing rewrites turn the Bernoulli log-density
``switch(y == 1, log(p), log1p(-p))`` with ``p = sigmoid(η)`` into
``switch(y == 1, -softplus(-η), -softplus(η))``, which evaluates two softplus functions per
observation where one suffices. Moving an elementwise function applied to both branches of a
``switch`` after it, ``switch(c, f(a), f(b)) → f(switch(c, a, b))``, is exact for any
elementwise ``f`` and halves that work: the 4000 × 2000 log-densities of a logistic
regression's Laplace draws took 0.80 s before and 0.47 s after.

PyTensor's C code for the trigamma function ψ₁ (AS 121: a shift to 5 and four
Bernoulli terms given to ten digits) is accurate only to about 6e-9 relative, and every
Hessian of a log-gamma term (a Gamma shape, a Student-t ν, a Beta) goes through it, while the
closed-form Fisher information evaluates SciPy's. :class:`_AccurateTriGamma` gives the same
function to rounding, and the compile-time pass puts it in place of PyTensor's.

Some log-densities need a rewrite before they are differentiated, not at compilation: the
negative binomial's log-CDF at 0 (in a hurdle or truncated likelihood) is
``log betainc(n, 1, p)``, and PyTensor's derivative of ``betainc`` in its first argument is a
``ScalarLoop`` that has no derivative itself, so no Hessian could be formed.
:func:`logp_terms` builds the model's log-density terms with the exact identity
:math:`I_x(a, 1) = x^a` applied wherever the second argument is 1 (:func:`unit_b_betainc`).
"""

import numpy as np
import pytensor.tensor as pt
from pymc.logprob.basic import transformed_conditional_logp
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.replace import graph_replace
from pytensor.graph.rewriting.basic import GraphRewriter, NodeRewriter, in2out
from pytensor.graph.traversal import apply_ancestors
from pytensor.scalar.basic import Add, Mul, Second, Switch, upgrade_to_float
from pytensor.scalar.math import BetaInc, PolyGamma, TriGamma
from pytensor.tensor.elemwise import DimShuffle, Elemwise

__all__ = ["COMPILE_REWRITES", "PYTHON_REWRITES", "logp_terms", "unit_b_betainc"]


class _SinkUnaryIntoSwitch(NodeRewriter):
    """``switch(c, f(a), f(b)) → f(switch(c, a, b))`` for one unary elementwise ``f``.

    A class rather than a decorated function so that compiled functions, which keep their
    compilation mode, pickle (see :mod:`.compilation`).
    """

    def tracks(self):
        return [Elemwise]

    def transform(self, fgraph, node, enforce_tracks=True):
        if not (isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Switch)):
            return None
        condition, left, right = node.inputs
        if left.owner is None or right.owner is None:
            return None
        function = left.owner.op
        if (
            not isinstance(function, Elemwise)
            or function != right.owner.op
            or function.destroy_map
            or len(left.owner.inputs) != 1
            or len(left.owner.outputs) != 1
        ):
            return None
        [a], [b] = left.owner.inputs, right.owner.inputs
        if a.type.dtype != b.type.dtype:  # the switch would upcast one branch
            return None
        return [function(pt.switch(condition, a, b))]


class _AccurateTriGamma(TriGamma):
    r""":math:`\psi_1(x)` in C to rounding: shifted by the recurrence
    :math:`\psi_1(x) = \psi_1(x + 1) + 1/x^2` to :math:`z \ge 20`, then the asymptotic series

    .. math::

        \psi_1(z) \approx \frac1z + \frac1{2z^2} + \sum_{k=1}^{5} \frac{B_{2k}}{z^{2k+1}},

    whose first omitted term, :math:`B_{12}/z^{13} < 4\cdot 10^{-18}`, is below rounding; for
    :math:`x \le 0` the reflection :math:`\psi_1(1 - x) + \psi_1(x) = \pi^2 / \sin^2(\pi x)`
    (infinite at the poles, where SciPy's is too)."""

    def c_support_code(self, **kwargs):
        return """
            #ifndef _PMFISHER_TRIGAMMA_DEFINED
            #define _PMFISHER_TRIGAMMA_DEFINED
            #include <math.h>
            static double _pmfisher_tri_gamma(double x) {
                const double pi = 3.14159265358979323846;
                double value = 0.0, z = x, y;
                if (x <= 0.0) {
                    if (x == floor(x)) return INFINITY;
                    double s = sin(pi * x);
                    return pi * pi / (s * s) - _pmfisher_tri_gamma(1.0 - x);
                }
                while (z < 20.0) {
                    value += 1.0 / (z * z);
                    z += 1.0;
                }
                y = 1.0 / (z * z);
                return value + 1.0 / z + 0.5 * y + y / z * (1.0 / 6.0 + y * (-1.0 / 30.0
                    + y * (1.0 / 42.0 + y * (-1.0 / 30.0 + y * (5.0 / 66.0)))));
            }
            #endif
            """

    def c_code(self, node, name, inp, out, sub):
        (x,), (z,) = inp, out
        if node.inputs[0].type.dtype not in ("float32", "float64"):
            raise NotImplementedError("only floating point is implemented")
        return f"{z} = _pmfisher_tri_gamma({x});"

    def c_code_cache_version(self):
        return (1,)


_ACCURATE_TRI_GAMMA = Elemwise(_AccurateTriGamma(upgrade_to_float, name="accurate_tri_gamma"))


class _UseAccurateTriGamma(NodeRewriter):
    """PyTensor's elementwise trigamma, or ``polygamma(1, x)`` (which its specialization
    would turn into it later) → :class:`_AccurateTriGamma` (a class, so that compiled
    functions pickle)."""

    def tracks(self):
        return [Elemwise]

    def transform(self, fgraph, node, enforce_tracks=True):
        if not isinstance(node.op, Elemwise):
            return None
        scalar_op = node.op.scalar_op
        if type(scalar_op) is TriGamma:
            return [_ACCURATE_TRI_GAMMA(*node.inputs)]
        if isinstance(scalar_op, PolyGamma) and _constant_value(node.inputs[0]) == 1:
            [out] = node.outputs
            shaped = pt.second(node.inputs[0], node.inputs[1])  # the broadcast shape of both
            return [pt.cast(_ACCURATE_TRI_GAMMA(shaped), out.dtype)]
        return None


class _SplitWideSum(NodeRewriter):
    """An elementwise sum or product of more than ``WIDEST_PYTHON_ELEMWISE`` inputs as a
    tree of narrower ones: Python's ``Elemwise.perform`` refuses more than 32 operands, and
    the accumulated derivatives of a Laplace marginal's Hessian sum 48. The same sum in
    another order, exact to rounding. A class for pickling, as the others."""

    def tracks(self):
        return [Elemwise]

    def transform(self, fgraph, node, enforce_tracks=True):
        if not (
            isinstance(node.op, Elemwise)
            and isinstance(node.op.scalar_op, Add | Mul)
            and len(node.inputs) > WIDEST_PYTHON_ELEMWISE
        ):
            return None
        operands = list(node.inputs)
        while len(operands) > WIDEST_PYTHON_ELEMWISE:
            operands = [
                node.op(*operands[start : start + WIDEST_PYTHON_ELEMWISE])
                if len(operands[start : start + WIDEST_PYTHON_ELEMWISE]) > 1
                else operands[start]
                for start in range(0, len(operands), WIDEST_PYTHON_ELEMWISE)
            ]
        [out] = node.outputs
        return [pt.cast(node.op(*operands), out.dtype)]


class _ForgetTraces(GraphRewriter):
    """Empty the creation stack traces of a function's graph before it is rewritten.

    A rewrite copies the traces of the node it replaces, its inputs' included, onto the
    replacement (``copy_stack_trace``); where the replacement is one of those inputs
    (``switch(c, a, a) → a``) that input's list grows with every such rewrite. Rewriting the
    Laplace marginal's gradient through an ``LKJCholeskyCov`` raised ``MemoryError`` in
    ``copy_stack_trace`` at a 6 GiB cap (4.1 GiB for its sparse route's Hessian products;
    205–220 MiB with the traces emptied first). Traces only serve PyTensor's error
    messages; the function's graph is a clone, so the model's own variables keep theirs
    (its explicit inputs, pmfisher's flat vectors, are not cloned and lose theirs).
    """

    def apply(self, fgraph):
        for variable in fgraph.variables:
            if getattr(variable.tag, "trace", None):
                variable.tag.trace = []


# Operands (inputs and the output) Python's Elemwise.perform takes: 32, as NumPy's ufuncs.
WIDEST_PYTHON_ELEMWISE = 31

# pmfisher's compile-time rewrites, (rewrite, position) pairs registered in the compilation
# mode by :mod:`.compilation`: the traces first, before PyTensor's first merge (0); the others
# after PyTensor's stabilization (position 1.5), which creates
# the switch pattern, and before its specialization (2) and elementwise fusion (49), which
# would hide it. One rewriter per pass: ``in2out`` of several keeps them in a tracker holding
# a lambda, and the mode, which every stored function pickles, would no longer pickle.
COMPILE_REWRITES = (
    (_ForgetTraces(), -0.5),
    (in2out(_SinkUnaryIntoSwitch(), name="pmfisher_switch_sink"), 1.9),
    (in2out(_UseAccurateTriGamma(), name="pmfisher_accurate_trigamma"), 1.91),
)

# The Python backend's own: after the canonicalization that merges sums and the last merge (49).
PYTHON_REWRITES = ((in2out(_SplitWideSum(), name="pmfisher_split_wide_sum"), 49.2),)


def _constant_value(variable: Variable):
    """The one value every entry of ``variable`` takes whatever the graph's inputs are, or
    ``None`` when that is not evident from its operations. Broadcasting (``DimShuffle``,
    ``second``) only sets a shape, so ``floor(second(y, 0)) + 1`` is 1 for any data ``y``:
    that is how PyMC writes the negative binomial's CDF at 0."""
    if isinstance(variable, Constant):
        values = np.unique(np.asarray(variable.data))
        return values[0] if values.size == 1 else None
    node = variable.owner
    if node is None or len(node.outputs) != 1:
        return None
    if isinstance(node.op, DimShuffle):
        return _constant_value(node.inputs[0])
    if not isinstance(node.op, Elemwise):
        return None
    if isinstance(node.op.scalar_op, Second):
        return _constant_value(node.inputs[1])
    values = [_constant_value(input) for input in node.inputs]
    if any(value is None for value in values):
        return None
    return np.asarray(node.op.scalar_op.impl(*values), dtype=variable.dtype)


def unit_b_betainc(graphs: list[Variable]) -> list[Variable]:
    r"""``graphs`` with every ``betainc(a, b, x)`` whose ``b`` is 1 replaced by ``x**a``.

    :math:`I_x(a, 1) = \frac{\int_0^x t^{a-1}\,dt}{B(a, 1)} = \frac{x^a / a}{1 / a} = x^a` for
    :math:`a > 0`, :math:`0 \le x \le 1`; elsewhere the result stays NaN, as ``betainc``
    gives, so values agree everywhere and the derivatives are those of ``x**a``:
    :math:`\partial_a = x^a \log x`, :math:`\partial_x = a x^{a-1}`. Graphs without such a
    ``betainc`` are returned as they are.
    """
    replacements = {}
    for node in apply_ancestors(graphs):
        if not (isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, BetaInc)):
            continue
        a, b, x = node.inputs
        if _constant_value(b) != 1:
            continue
        [out] = node.outputs
        power = pt.switch((a > 0) & (x >= 0) & (x <= 1), x**a, np.nan)
        # b may carry the shape (a data vector's, through ``second``): keep it.
        replacements[out] = pt.cast(pt.second(b, power), out.dtype)
    return graph_replace(graphs, replacements, strict=False) if replacements else list(graphs)


def logp_terms(rvs, *, rvs_to_values, rvs_to_transforms, jacobian: bool) -> list[Variable]:
    """PyMC's log-density terms of ``rvs`` (``transformed_conditional_logp``) in the form
    pmfisher differentiates (:func:`unit_b_betainc`): every graph pmfisher derives is built
    here."""
    if not rvs:
        return []
    terms = transformed_conditional_logp(
        rvs,
        rvs_to_values=rvs_to_values,
        rvs_to_transforms=rvs_to_transforms,
        jacobian=jacobian,
    )
    return unit_b_betainc(terms)
