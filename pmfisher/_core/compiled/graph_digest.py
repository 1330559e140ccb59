"""Digests of PyTensor graphs that are equal exactly when the graphs compute the same,
in every process: the key of :mod:`pmfisher._core.compiled.compilation`'s disk cache.

The inputs' types are entered first, in order, whether the graph reads them or not. Then
each variable is entered in a depth-first order fixed by the graph's structure (never by
object ids or hashes, which differ between processes): an operation by the digest of its
pickled state (PyTensor's own notion of equal operations), with the numbers of its inputs
and the types of its outputs; an input by its position and type; a shared variable (a data
container) by its position among them; a data array (:func:`data_constants`) by its position
among them and its type; any other constant by its type and value.
"""

import hashlib
from copy import copy

import numpy as np
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable

from pmfisher._core.compiled.pickling import pickled

__all__ = [
    "DATA_SIZE",
    "UndigestibleGraph",
    "data_constants",
    "data_digest",
    "graph_digest",
    "shared_ancestors",
]

#: A constant of at least this many entries is data written into the model (observed values,
#: a design matrix, a group index), not a shape or a parameter: compiled functions take it as
#: an input, so that one function serves every data set of the same shapes.
DATA_SIZE = 16


class UndigestibleGraph(Exception):
    """The graph holds something that has no stable digest."""


def _without_caches(obj):
    """``obj``, or for a reduction that ran Python's ``perform`` (a function compiled without
    C) a copy without the NumPy ufunc it then keeps in ``_ufunc``, which its pickle would
    otherwise carry: one graph, one digest, before and after."""
    if "_ufunc" not in getattr(obj, "__dict__", {}):
        return obj
    clean = copy(obj)
    del clean._ufunc
    return clean


def shared_ancestors(outputs) -> tuple[SharedVariable, ...]:
    """The shared variables the graphs read, in the order a depth-first walk meets them."""
    return tuple(v for v in _postorder(outputs) if isinstance(v, SharedVariable))


def data_constants(outputs) -> tuple[Constant, ...]:
    """The constant arrays of at least :data:`DATA_SIZE` entries the graphs read, in the
    order a depth-first walk meets them."""
    return tuple(
        v
        for v in _postorder(outputs)
        if isinstance(v, Constant) and getattr(v.data, "size", 1) >= DATA_SIZE
    )


def _postorder(outputs) -> list[Variable]:
    """Every variable of the graphs, each after its inputs, in an order fixed by the graph's
    structure alone (not by object ids), so that equal graphs give equal sequences."""
    order, seen = [], set()
    stack = [(variable, False) for variable in reversed(outputs)]
    while stack:
        variable, expanded = stack.pop()
        if variable in seen:
            continue
        if expanded or variable.owner is None:
            seen.add(variable)
            order.append(variable)
            continue
        stack.append((variable, True))
        node = variable.owner
        # Every output of a node is entered right after the node's inputs.
        stack.extend((output, True) for output in reversed(node.outputs) if output is not variable)
        stack.extend((parent, False) for parent in reversed(node.inputs))
    return order


def graph_digest(inputs, outputs, shared, data=()) -> str:
    """A digest that is equal for two graphs exactly when PyTensor would compute the same
    from the same data.

    ``shared`` and ``data`` (:func:`data_constants`) are the graphs' data containers and data
    arrays, which a compiled function takes as inputs: both are entered by their position and
    type, so two graphs that differ only in the values of their data have one digest.
    """
    digest = hashlib.blake2b(digest_size=20)
    # id of an op, type or constant's value → its token (the graph keeps them all alive)
    tokens: dict[int, str] = {}

    def token(obj) -> str:
        if id(obj) not in tokens:
            try:
                payload = pickled(_without_caches(obj), protocol=4)
            except Exception as error:
                raise UndigestibleGraph(f"{obj!r} does not pickle: {error}") from error
            tokens[id(obj)] = hashlib.blake2b(payload, digest_size=16).hexdigest()
        return tokens[id(obj)]

    # Every input's type, whether the outputs reach it or not: a recipe may read an input
    # the sources do not (the directions of Hessian products, whose number is the number of
    # colours of a sparsity pattern that the data decide).
    for variable in inputs:
        digest.update(f"input {token(variable.type)}\n".encode())
    roles = {variable: f"input {i}" for i, variable in enumerate(inputs)}
    roles.update({container: f"data {i}" for i, container in enumerate(shared)})
    roles.update({array: f"data array {i}" for i, array in enumerate(data)})
    number: dict[Variable, int] = {}
    variables = _postorder(outputs)
    for variable in variables:
        if variable.owner is not None:
            node = variable.owner
            parents = [number[parent] for parent in node.inputs]
            entry = (
                f"{token(node.op)} {parents} out {node.outputs.index(variable)}"
                f" of {[token(output.type) for output in node.outputs]}"
            )
        elif variable in roles:
            entry = f"{roles[variable]} {token(variable.type)}"
        elif isinstance(variable, Constant):
            entry = f"constant {token(variable.type)} {token(variable.data)}"
        else:
            raise UndigestibleGraph(f"{variable} is neither an input nor a constant")
        number[variable] = len(number)
        digest.update(entry.encode())
        digest.update(b"\n")
    digest.update(repr([number[output] for output in outputs]).encode())
    return digest.hexdigest()


def data_digest(outputs) -> str:
    """A digest of the current values of the data containers ``outputs`` read: what changes
    when ``pm.set_data`` does, even to values of the same shape."""
    digest = hashlib.blake2b(digest_size=16)
    for container in shared_ancestors(outputs):
        value = np.asarray(container.get_value(borrow=True))
        digest.update(f"{container.name}|{value.dtype}|{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()
