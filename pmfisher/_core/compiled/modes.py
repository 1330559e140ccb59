"""The PyTensor modes pmfisher compiles with: C for a function called many times, Python's
virtual machine for one called a few times (:mod:`pmfisher._core.compiled.compilation` says
how the backend is chosen), and the rule that leaves PyTensor's in-place rewrite out of a large
graph.

**In place, by size.** PyTensor's in-place elementwise rewrite lets an elementwise node write
its output over an input, which saves an allocation per node and call; it tries each node's
inputs one at a time and validates the whole graph for cycles after each try, a cost that
grows with the square of the graph. On the third derivatives of a Laplace marginal's gradient
pullback (a one-compartment PK population model, 6,091 nodes before rewriting) it took most
of a C compile of several minutes (122 s against 21 s without it, with the C modules already
on disk), for calls 1.3 ms against 1.8 ms without. A graph of more than
:data:`INPLACE_NODE_LIMIT` nodes is therefore compiled without it; the node count is read off
the graph before rewriting, so the same graph always gets the same mode and the cache key,
which names the mode asked for, names one function.
"""

from __future__ import annotations

import os

from pytensor.compile.mode import Mode as CompileMode
from pytensor.compile.mode import get_mode
from pytensor.graph.traversal import applys_between
from pytensor.link.vm import VMLinker

from pmfisher._core.compiled.rewrites import COMPILE_REWRITES, PYTHON_REWRITES

__all__ = ["COMPILE_MODE", "INPLACE_NODE_LIMIT", "PYTHON_MODE", "mode_for_size"]

#: The C mode, or the PyTensor mode named by ``PMFISHER_MODE``, with pmfisher's rewrites.
COMPILE_MODE = (
    get_mode(os.environ["PMFISHER_MODE"])
    if "PMFISHER_MODE" in os.environ
    else CompileMode(linker="cvm")
).register(*COMPILE_REWRITES)

# Python's ``perform`` of every node, no C compiler: a fused ``Composite`` would loop over its
# elements in Python, so the fusion rewrites are left out and each elementwise node stays one
# NumPy call.
PYTHON_MODE = (
    COMPILE_MODE
    if "PMFISHER_MODE" in os.environ
    else CompileMode(
        linker=VMLinker(use_cloop=False, c_thunks=False),
        optimizer=COMPILE_MODE.provided_optimizer.excluding("fusion", "inplace"),
    ).register(*PYTHON_REWRITES)
)

#: Nodes before rewriting above which a C function is compiled without the in-place rewrite
#: (module docstring): a Hessian-matrix product of a GLMM has a few hundred, the marginal's
#: third-derivative graphs several thousand.
INPLACE_NODE_LIMIT = 2_000

_C_WITHOUT_INPLACE = COMPILE_MODE.excluding("inplace_elemwise")


def mode_for_size(mode: CompileMode, inputs, outputs) -> CompileMode:
    """``mode`` itself, or the C mode without the in-place rewrite for a graph from
    ``inputs`` to ``outputs`` of more than :data:`INPLACE_NODE_LIMIT` nodes."""
    if mode is not COMPILE_MODE or "PMFISHER_MODE" in os.environ:
        return mode
    nodes = sum(1 for _ in applys_between(inputs, outputs))
    return _C_WITHOUT_INPLACE if nodes > INPLACE_NODE_LIMIT else mode
