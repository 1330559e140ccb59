"""Graph rewrites pmfisher adds to PyTensor's compilation pipeline (see :mod:`._compile`).

PyTensor's stabilizing rewrites turn the Bernoulli log-density
``switch(y == 1, log(p), log1p(-p))`` with ``p = sigmoid(η)`` into
``switch(y == 1, -softplus(-η), -softplus(η))``, which evaluates two softplus functions per
observation where one suffices. Moving an elementwise function applied to both branches of a
``switch`` after it, ``switch(c, f(a), f(b)) → f(switch(c, a, b))``, is exact for any
elementwise ``f`` and halves that work: the 4000 × 2000 log-densities of a logistic
regression's Laplace draws took 0.80 s before and 0.47 s after.
"""

import pytensor.tensor as pt
from pytensor.graph.rewriting.basic import NodeRewriter, in2out
from pytensor.scalar.basic import Switch
from pytensor.tensor.elemwise import Elemwise

__all__ = ["SWITCH_SINK"]


class _SinkUnaryIntoSwitch(NodeRewriter):
    """``switch(c, f(a), f(b)) → f(switch(c, a, b))`` for one unary elementwise ``f``.

    A class rather than a decorated function so that compiled functions, which keep their
    compilation mode, pickle (see :mod:`._compile`).
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


# After PyTensor's stabilization (position 1.5), which creates the pattern, and before its
# specialization (2) and elementwise fusion (49), which would hide it.
SWITCH_SINK = (in2out(_SinkUnaryIntoSwitch(), name="pmfisher_switch_sink"), 1.9)
