"""A design criterion and its exact gradient at one point or averaged over draws.

:func:`criterion_spec` reads the user's ``criterion`` and ``parameters`` once;
:func:`parameter_draws` turns ``point`` into flat θ (one row, or one per draw);
:func:`evaluate` calls the compiled criterion of :mod:`pmfisher.design.design_graph` at every
row and averages, refusing a singular information with the parameters it cannot determine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

from pmfisher._core.linalg.definiteness import positive_definite, require_finite
from pmfisher._core.options import Criterion
from pmfisher.design.criteria import MAXIMIZED
from pmfisher.design.design_graph import Aggregate, DesignGraph
from pmfisher.errors import ArgumentError, NotFiniteError, PointError
from pmfisher.information.symbolic_quadrature import TAIL_MASS

__all__ = ["CriterionSpec", "Evaluation", "criterion_spec", "evaluate", "parameter_draws"]


@dataclass(frozen=True)
class CriterionSpec:
    """A criterion with what it needs: the nuisance positions (``"Ds"``), the deterministic
    or the fixed contrast vector (``"c"``)."""

    criterion: Criterion
    nuisance: tuple[int, ...] | None = None
    deterministic: str | None = None
    contrast: np.ndarray | None = None

    @property
    def sign(self) -> float:
        """+1 for a criterion to maximize, −1 for one to minimize."""
        return 1.0 if self.criterion in MAXIMIZED else -1.0


def criterion_spec(graph, criterion: Criterion, parameters) -> CriterionSpec:
    """Check ``parameters`` against ``criterion``: variable names or labels of interest for
    ``"Ds"``; for ``"c"`` a deterministic's name or a mapping label → coefficient."""
    labels = list(graph.labels)
    if criterion == "Ds":
        if parameters is None:
            raise ArgumentError(
                "criterion='Ds' needs parameters=[...]: the parameters of interest."
            )
        names = [parameters] if isinstance(parameters, str) else list(parameters)
        interest = set()
        for name in names:
            block = next((b for b in graph.blocks if b.rv_name == name), None)
            if block is not None:
                interest.update(range(block.start, block.stop))
            elif name in labels:
                interest.add(labels.index(name))
            else:
                raise ArgumentError(
                    f"parameters names {name!r}, which is neither a free variable nor a "
                    f"parameter label of the model ({', '.join(labels)})."
                )
        return CriterionSpec(
            "Ds", nuisance=tuple(i for i in range(graph.size) if i not in interest)
        )
    if criterion == "c":
        if isinstance(parameters, str):
            if parameters not in graph.deterministics:
                raise ArgumentError(
                    f"criterion='c' names {parameters!r}, which is not a deterministic of the "
                    "model; give a deterministic's name or a mapping label → coefficient."
                )
            return CriterionSpec("c", deterministic=parameters)
        if not isinstance(parameters, Mapping):
            raise ArgumentError(
                "criterion='c' needs parameters= a deterministic's name or a mapping "
                "label → coefficient of the linear combination."
            )
        contrast = np.zeros(graph.size)
        for label, coefficient in parameters.items():
            if label not in labels:
                raise ArgumentError(
                    f"parameters names {label!r}, which is not a parameter label of the model "
                    f"({', '.join(labels)})."
                )
            contrast[labels.index(label)] = float(coefficient)
        return CriterionSpec("c", contrast=contrast)
    if parameters is not None:
        raise ArgumentError(
            f"parameters= applies to criterion='Ds' and criterion='c', not {criterion!r}."
        )
    return CriterionSpec(criterion)


def parameter_draws(graph, point) -> tuple[np.ndarray, bool]:
    """Flat θ as rows ``(S, d)``, and whether ``point`` held draws (a leading axis on every
    variable, or a posterior/prior ``xarray`` object with ``chain`` and ``draw``)."""
    if hasattr(point, "children") and "posterior" in point.children:
        point = point["posterior"].to_dataset()
    if isinstance(point, xr.Dataset):
        stacked = point.stack(sample=[d for d in ("chain", "draw") if d in point.dims])
        point = {
            name: np.moveaxis(stacked[name].values, -1, 0)
            for name in stacked.data_vars
            if name in {block.rv_name for block in graph.blocks}
        }
    point = getattr(point, "point", point)
    if not isinstance(point, Mapping):
        raise PointError(
            f"a point must map free-variable names to values, got {type(point).__name__}."
        )
    shapes = {block.rv_name: block.point_shape for block in graph.blocks}
    batched = {
        name: np.ndim(point[name]) == len(shape) + 1
        for name, shape in shapes.items()
        if name in point
    }
    if not any(batched.values()):
        flat = graph.flatten(point)
        graph.check_in_support(flat)
        return flat[None, :], False
    if not all(batched.values()) or len(batched) < len(shapes):
        single = [name for name, is_batched in batched.items() if not is_batched]
        raise PointError(
            "draws of the parameters need a leading draw axis on every free variable; "
            f"{', '.join(single) or 'some variables'} have none."
        )
    counts = {np.shape(point[name])[0] for name in shapes}
    if len(counts) > 1:
        raise PointError(f"the free variables have different numbers of draws: {sorted(counts)}.")
    rows = []
    for draw in range(counts.pop()):
        flat = graph.flatten({name: np.asarray(point[name])[draw] for name in shapes})
        graph.check_in_support(flat)
        rows.append(flat)
    return np.array(rows), True


@dataclass(frozen=True)
class Evaluation:
    """The criterion per draw, its gradients averaged over draws (name → array, and
    ``"weights"`` for a weighted design), and the information per draw ``(S, d, d)``."""

    values: np.ndarray
    gradients: dict[str, np.ndarray]
    matrices: np.ndarray

    @property
    def value(self) -> float:
        return float(self.values.mean())


def evaluate(
    design: DesignGraph,
    aggregate: Aggregate,
    spec: CriterionSpec,
    thetas: np.ndarray,
    values: list[np.ndarray],
    weights: np.ndarray | None = None,
    *,
    gradient: bool = True,
) -> Evaluation:
    """The criterion at the design ``values`` (one array per container) for every row of
    ``thetas``; raises ``NotPositiveDefiniteError`` when the information is singular."""
    design = design.current()
    design.check_length(int(np.shape(values[0])[0]))
    function = design.function(
        aggregate,
        spec.criterion,
        nuisance=spec.nuisance,
        deterministic=spec.deterministic,
        gradient=gradient,
    )
    extra = [] if weights is None else [np.asarray(weights, dtype="float64")]
    if spec.contrast is not None:
        extra.append(spec.contrast)
    names = [*design.names, "weights"] if weights is not None else list(design.names)
    names = names if gradient else []
    criteria, matrices, totals = [], [], None
    for theta in thetas:
        value, matrix, tail, *grads = function(theta, *values, *extra)
        if tail > TAIL_MASS:  # a discrete quadrature's support is too short here
            return evaluate(
                design.grow(), aggregate, spec, thetas, values, weights, gradient=gradient
            )
        if not np.isfinite(value):
            positive_definite(
                matrix,
                design.graph.labels,
                what="Fisher information at this design",
                advice="Add runs where these parameters change the mean, or fix them.",
            )
            raise NotFiniteError(
                f"the criterion {spec.criterion!r} is not finite at this design although its "
                "information is positive definite."
            )
        for name, grad in zip(names, grads, strict=True):
            require_finite(np.atleast_1d(grad), [name] * np.size(grad), "the design gradient")
        criteria.append(float(value))
        matrices.append(matrix)
        grads = [np.asarray(grad, dtype="float64") for grad in grads]
        totals = grads if totals is None else [t + g for t, g in zip(totals, grads, strict=True)]
    count = len(thetas)
    gradients = dict(zip(names, [total / count for total in totals or []], strict=bool(totals)))
    return Evaluation(np.array(criteria), gradients, np.array(matrices))
