"""Digests of PyTensor graphs that are equal exactly when the graphs compute the same,
in every process: the key of :mod:`pmfisher._core.compilation`'s disk cache.

Each variable is entered in a depth-first order fixed by the graph's structure (never by
object ids or hashes, which differ between processes): an operation by the digest of its
pickled state (PyTensor's own notion of equal operations), with the numbers of its inputs
and the types of its outputs; an input by its position and type; a shared variable (a data
container) by its position among them; a constant by its type and value.
"""

import hashlib

from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable

from pmfisher._core.pickling import pickled

__all__ = ["UndigestibleGraph", "graph_digest", "shared_ancestors"]


class UndigestibleGraph(Exception):
    """The graph holds something that has no stable digest."""


def shared_ancestors(outputs) -> tuple[SharedVariable, ...]:
    """The shared variables the graphs read, in the order a depth-first walk meets them."""
    return tuple(v for v in _postorder(outputs) if isinstance(v, SharedVariable))


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


def graph_digest(inputs, outputs, shared, *, array_values: bool = True) -> str:
    """A digest that is equal for two graphs exactly when PyTensor would compute the same.

    With ``array_values=False`` a constant array (observed data written into the model) is
    entered by its type alone: the digest is then equal for two graphs that differ only in
    their data, which compile to the same C modules (the data are not written into C code;
    scalars, which are, keep their values).
    """
    digest = hashlib.blake2b(digest_size=20)
    # id of an op, type or constant's value → its token (the graph keeps them all alive)
    tokens: dict[int, str] = {}

    def token(obj) -> str:
        if id(obj) not in tokens:
            try:
                payload = pickled(obj, protocol=4)
            except Exception as error:
                raise UndigestibleGraph(f"{obj!r} does not pickle: {error}") from error
            tokens[id(obj)] = hashlib.blake2b(payload, digest_size=16).hexdigest()
        return tokens[id(obj)]

    roles = {variable: f"input {i}" for i, variable in enumerate(inputs)}
    roles.update({data: f"data {i}" for i, data in enumerate(shared)})
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
            scalar = getattr(variable.data, "size", 1) <= 1
            value = token(variable.data) if array_values or scalar else ""
            entry = f"constant {token(variable.type)} {value}"
        else:
            raise UndigestibleGraph(f"{variable} is neither an input nor a constant")
        number[variable] = len(number)
        digest.update(entry.encode())
        digest.update(b"\n")
    digest.update(repr([number[output] for output in outputs]).encode())
    return digest.hexdigest()
