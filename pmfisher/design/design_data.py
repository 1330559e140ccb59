r"""A design set on the model for the length of a computation, and the model restored.

The population information (:mod:`pmfisher.design.population`) is a Monte Carlo expectation
over data sets simulated at the design, which the compiled Laplace marginal reads from the
model's containers; so the design is set on them, as ``pm.set_data`` would, and every
container, coordinate and dimension length is put back afterwards — the same arrays, so
that graphs cached for the model's own data stay valid.

A design maps container names to values (any dtype: a subject index may change with the
times) and may name a dimension of the model with its new coordinate values or length
(``"subject": 12``), which resizes the random effects laid out along it. Dimensions of the
design's containers follow their new lengths, and observed-data containers of the design's
old length are set to zeros of the new one (the simulated data replace them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pymc as pm
from pytensor.compile.sharedvalue import SharedVariable

from pmfisher.design.design_graph import data_containers
from pmfisher.errors import ArgumentError

__all__ = ["designed"]


@contextmanager
def designed(model: pm.Model, design: Mapping, observed: tuple[str, ...]) -> Iterator[None]:
    """Set ``design`` on ``model`` (containers and dimensions) for the ``with`` block;
    ``observed`` names the containers of observed values, which follow the runs' length."""
    containers = data_containers(model)
    unknown = [name for name in design if name not in containers and name not in model.coords]
    if unknown:
        raise ArgumentError(
            f"the design names {', '.join(map(repr, unknown))}, which is neither a pm.Data "
            f"container of the model ({', '.join(sorted(containers)) or 'none'}) nor one of "
            f"its dimensions ({', '.join(sorted(model.coords)) or 'none'})."
        )
    observed_design = [name for name in design if name in observed]
    if observed_design:
        raise ArgumentError(
            f"the design names {observed_design[0]!r}, which holds observed values: "
            "observations are not a design."
        )
    saved_values = {name: c.get_value(borrow=True) for name, c in containers.items()}
    saved_coords = dict(model.coords)
    saved_lengths = {
        name: length.get_value()
        for name, length in model.dim_lengths.items()
        if isinstance(length, SharedVariable)
    }
    try:
        _set(model, design, containers, observed)
        yield
    finally:
        for name, container in containers.items():
            container.set_value(saved_values[name], borrow=True)
        for name, length in saved_lengths.items():
            model.dim_lengths[name].set_value(length)
        for name, values in saved_coords.items():
            if model.coords.get(name) != values:
                model.set_dim(name, len(values) if values is not None else 0, values)


def _set(model, design, containers, observed) -> None:
    data = {name: np.asarray(values) for name, values in design.items() if name in containers}
    for dim in (name for name in design if name not in containers):
        values = design[dim]
        values = np.arange(int(values)) if np.ndim(values) == 0 else np.asarray(values)
        had_coords = model.coords.get(dim) is not None
        model.set_dim(dim, values.size, values if had_coords else None)
    if not data:
        return
    old_length = np.shape(containers[next(iter(data))].get_value(borrow=True))
    new_length = next(iter(data.values())).shape
    if old_length and new_length and old_length[0] != new_length[0]:
        for name in observed:
            shape = np.shape(containers[name].get_value(borrow=True))
            if shape and shape[0] == old_length[0]:
                dtype = containers[name].get_value(borrow=True).dtype
                data[name] = np.zeros((new_length[0], *shape[1:]), dtype=dtype)
    coords = {}
    for name, values in data.items():
        for axis, dim in enumerate(model.named_vars_to_dims.get(name) or ()):
            if dim is None or dim in design or axis >= values.ndim:
                continue
            if model.coords.get(dim) is not None and len(model.coords[dim]) != values.shape[axis]:
                coords[dim] = np.arange(values.shape[axis])
    pm.set_data(data, model=model, coords=coords or None)
