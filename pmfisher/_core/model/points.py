"""Points: a mapping of free-variable names to values, checked and turned into the flat
vector of a :class:`~pmfisher._core.model.model_graph.ModelGraph`, and back; and whether a flat
vector lies in the support, with the variable named when it does not."""

from __future__ import annotations

import numpy as np
from pymc.logprob.utils import ParameterValueError

from pmfisher._core.model.labelled import element_labels
from pmfisher._core.model.target import point_values
from pmfisher.errors import PointError

__all__ = ["check_in_support", "constrained_point", "flatten"]


def flatten(graph, point) -> np.ndarray:
    """Flat vector in this graph's space from a point in the constrained space.

    ``point`` maps free-variable names to values (a ``Mode`` is accepted too); names of
    the unconstrained value variables are accepted as well when every variable is given
    that way. A ``Mode`` of another density is refused
    (:func:`~pmfisher._core.model.target.point_values`).
    """
    point = point_values(point, graph)
    rv_names = [block.rv_name for block in graph.blocks]
    value_names = [graph.model.rvs_to_values[rv].name for rv in graph.free_rvs]
    given_space = "constrained"
    if not all(name in point for name in rv_names) and all(name in point for name in value_names):
        given_space = "unconstrained"
    names = rv_names if given_space == "constrained" else value_names
    missing = [name for name in names if name not in point]
    if missing:
        raise PointError(f"the point is missing free variable(s) {', '.join(missing)}.")
    given = graph.in_space(given_space)
    flat = np.empty(given.size)
    for block, name in zip(given.blocks, names, strict=True):
        value = _point_value(name, point[name], block.point_shape)
        if block.coordinates is not None:
            value = block.coordinates.reduce(value)
        flat[block.start : block.stop] = value.ravel()
    if given_space != graph.space:
        flat = np.asarray(
            given.to_unconstrained_fn(flat)
            if graph.space == "unconstrained"
            else given.to_constrained_fn(flat),
            dtype="float64",
        )
        if not np.all(np.isfinite(flat)):
            # A transform of a value outside its support (the log of a negative scale).
            bad = [label for label, x in zip(graph.labels, flat, strict=True) if not np.isfinite(x)]
            raise PointError(
                f"the point is outside the support of {_names_of(graph.blocks, bad)}: "
                f"its transform to the {graph.space} space is not finite at {', '.join(bad)}."
            )
    return np.asarray(flat, dtype="float64")


def constrained_point(graph, flat: np.ndarray) -> dict[str, np.ndarray]:
    """The point (free-variable name → value, constrained space, all entries of a
    simplex or zero-sum vector) of a flat vector."""
    values = graph.point_fn(np.asarray(flat, dtype="float64"))
    return {
        rv.name: np.asarray(value, dtype="float64")
        for rv, value in zip(graph.free_rvs, values, strict=True)
    }


def check_in_support(graph, flat: np.ndarray) -> float:
    """The log-density at ``flat``; a ``PointError`` naming the variable if it is not finite
    or, in the constrained space, if a free variable is outside its own support (which
    the likelihood alone does not see: ``mu = 5`` under ``mu ~ Uniform(-3, 3)``)."""
    if graph.space == "constrained" and any(graph.transforms.values()):
        # The model's transforms map exactly the support onto the real line.
        unconstrained = np.asarray(graph.to_unconstrained_fn(flat))
        if not np.all(np.isfinite(unconstrained)):
            blocks = graph.in_space("unconstrained").blocks
            outside = [
                block.rv_name
                for block in blocks
                if not np.all(np.isfinite(unconstrained[block.start : block.stop]))
            ]
            raise PointError(
                f"the point is outside the support of {', '.join(outside)}: the model's "
                "transform of it is not finite."
            )
    try:
        logp = float(graph.logp_fn(flat))
    except ParameterValueError:
        logp = -np.inf
    if np.isfinite(logp):
        return logp
    culprits = []
    for name, function in graph.variable_logp_fns.items():
        try:
            value = float(function(flat))
        except ParameterValueError as error:
            culprits.append(f"{name} (its parameters violate {str(error).splitlines()[0]})")
            continue
        if not np.isfinite(value):
            culprits.append(name)
    raise PointError(
        f"the log-density is {logp} at this point: it is outside the support of "
        f"{', '.join(culprits) or 'the model'}."
    )


def _names_of(blocks, labels) -> str:
    """The free variables owning some of the flat entries ``labels``."""
    labels = set(labels)
    return ", ".join(block.rv_name for block in blocks if labels.intersection(block.labels))


def _point_value(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """A point's value for ``name`` as a finite float array of ``shape``, or a ``PointError``
    saying what is wrong with it."""
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError):
        raise PointError(
            f"{name} must be numeric in the point, got {type(value).__name__} {value!r:.60}."
        ) from None
    if array.shape != shape:
        try:
            array = np.broadcast_to(array, shape)
        except ValueError:
            raise PointError(
                f"{name} has shape {array.shape} in the point, "
                f"but the model's {name} has shape {shape}."
            ) from None
    if not np.all(np.isfinite(array)):
        bad = element_labels(name, shape, None, {})
        bad = [label for label, x in zip(bad, array.ravel(), strict=True) if not np.isfinite(x)]
        raise PointError(f"the point has non-finite values at {', '.join(bad)}.")
    return array
