"""What makes a model's cached graph stale.

:func:`~pmfisher._core.model.model_graph.model_graph` keeps one graph per model, space and terms,
with everything derived from it; it builds a new one when the model's signature changes.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pytensor.compile.sharedvalue import SharedVariable

__all__ = ["model_signature"]


def model_signature(model: pm.Model) -> tuple:
    """What, if it changes, makes a cached graph stale: variables added to the model, the
    shapes of its data containers and its coordinates, which ``pm.set_data`` can change, and
    the values of its integer and boolean data containers.

    A graph holds the layout of the observations (their number and labels) and its companions
    hold structures sized by it; data *values* are never cached, every compiled function
    reads the containers as they are at the call. Except indices: a group index decides
    which parameters meet in an observation, so the sparsity patterns of the Hessian and the
    Fisher information (and their colourings) are read from its values. Those containers
    enter by the identity of the array they hold, which ``pm.set_data`` replaces (kept alive
    here, so that its id is not reused).
    """
    variables = tuple(
        tuple(id(var) for var in group)
        for group in (model.free_RVs, model.observed_RVs, model.potentials, model.deterministics)
    )
    containers = [data for data in model.data_vars if isinstance(data, SharedVariable)]
    data_shapes = tuple((id(data), np.shape(data.get_value(borrow=True))) for data in containers)
    indices = tuple(
        _Identity(data.get_value(borrow=True))
        for data in containers
        if data.type.dtype.startswith(("int", "uint", "bool"))
    )
    # Coordinate values are tuples that set_data replaces: compared by identity first.
    coords = tuple((name, values) for name, values in model.coords.items())
    return variables, data_shapes, indices, coords


class _Identity:
    """An object compared by identity (an array, whose ``==`` is elementwise)."""

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj

    __hash__ = None
