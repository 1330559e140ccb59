"""Static shapes read off the types, while pmfisher builds and rewrites a graph.

Every ``Alloc`` (and ``broadcast_to``, which makes one) that PyTensor creates asks
``pytensor.tensor.basic.infer_static_shape`` for the static shape its shape arguments imply.
That function copies the whole graph behind those arguments into a ``FunctionGraph`` and runs
the shape rewrites over it — even when an argument is ``x.shape[i]`` of a tensor whose type
already says how long its axis ``i`` is (PyTensor issue #2137, "if we have shape(x) where x has
static shape, we should run the rewrite that replaces it by static shape first, and not spend
cycles rewriting x"). Differentiating through a ``Blockwise`` operation (the batched
triangular solve of ``pm.MvNormal``'s log-density) vectorizes the core gradient, and every
shape it vectorizes becomes such an ``Alloc`` of ``x.shape[i]`` over an intermediate of
thousands of nodes: on lme4's sleepstudy model with its random effects as ``pm.MvNormal``, 546
calls took 20–29 s of a 53–99 s first ``find_mode(latent=...)``, against 0.4 s for the same
model in its spherical form.

:func:`static_shapes_from_types` answers those calls from the types when every entry is a
constant or an entry of ``shape(x)`` (directly, through ``Shape_i``, or through a slice of
it) at an axis whose length ``x``'s type knows, and asks PyTensor otherwise: the answer is
the one PyTensor's rewrites reach, because they read the same static lengths. pmfisher
compiles inside it (:func:`~pmfisher._core.compiled.compilation.compile_derived`); outside,
PyTensor is untouched.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import pytensor.tensor.basic as tensor_basic
from pytensor.graph.basic import Constant, Variable
from pytensor.tensor.shape import Shape, Shape_i
from pytensor.tensor.subtensor import Subtensor, get_idx_list

__all__ = ["static_shapes_from_types"]

_PYTENSORS_OWN = tensor_basic.infer_static_shape
_LOCK = threading.Lock()
_depth = 0


@contextlib.contextmanager
def static_shapes_from_types() -> Iterator[None]:
    """Within this block, PyTensor infers a static shape from the types where they say it
    (module docstring); nested blocks and threads share one replacement."""
    global _depth
    with _LOCK:
        if _depth == 0:
            tensor_basic.infer_static_shape = _infer_static_shape
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0:
                tensor_basic.infer_static_shape = _PYTENSORS_OWN


def _infer_static_shape(shape: Variable | Sequence[Variable | int]):
    """``infer_static_shape``'s contract: the shape entries as scalar integer variables, and
    the static length of each (``None`` where unknown)."""
    if isinstance(shape, Variable):
        return _PYTENSORS_OWN(shape)
    entries = [tensor_basic.as_tensor_variable(entry, ndim=0) for entry in shape]
    if not all(entry.type.dtype.startswith(("int", "uint")) for entry in entries):
        return _PYTENSORS_OWN(shape)  # which raises PyTensor's own error
    lengths = [_static_length(entry) for entry in entries]
    if any(length is None for length in lengths):
        return _PYTENSORS_OWN(shape)
    return entries, tuple(lengths)


def _static_length(entry: Variable) -> int | None:
    """The value of a scalar shape entry where a constant or a type gives it, else ``None``."""
    if isinstance(entry, Constant):
        return int(entry.data)
    node = entry.owner
    if node is None:
        return None
    if isinstance(node.op, Shape_i):
        return node.inputs[0].type.shape[node.op.i]
    if isinstance(node.op, Subtensor):
        [index] = _constant_indices(node) or [None]
        lengths = _static_lengths(node.inputs[0])
        if isinstance(index, int) and lengths is not None and -len(lengths) <= index < len(lengths):
            return lengths[index]
    return None


def _static_lengths(vector: Variable) -> list[int | None] | None:
    """The static entries of ``shape(x)`` or of a slice of it, ``None`` where the type does
    not know an axis; ``None`` for any other vector."""
    node = vector.owner
    if node is None:
        return None
    if isinstance(node.op, Shape):
        return list(node.inputs[0].type.shape)
    if isinstance(node.op, Subtensor):
        [index] = _constant_indices(node) or [None]
        lengths = _static_lengths(node.inputs[0])
        if isinstance(index, slice) and lengths is not None:
            return lengths[index]
    return None


def _constant_indices(node) -> list[int | slice] | None:
    """A one-index ``Subtensor``'s index as Python values, or ``None`` if any is symbolic or
    there are several."""
    indices = get_idx_list(node.inputs, node.op.idx_list)
    if len(indices) != 1:
        return None
    [index] = indices
    if isinstance(index, slice):
        given = (index.start, index.stop, index.step)
        bounds = [_constant(bound) for bound in given]
        if any(b is not None and v is None for b, v in zip(given, bounds, strict=True)):
            return None
        return [slice(*bounds)]
    value = _constant(index)
    return None if value is None else [value]


def _constant(value) -> int | None:
    """A Python integer for a constant index, ``None`` for a symbolic one."""
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, Constant):
        return int(value.data)
    return None
