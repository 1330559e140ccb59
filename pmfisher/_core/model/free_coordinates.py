r"""The free coordinates of a variable whose transform changes its dimension.

A simplex of :math:`K` entries has :math:`K - 1` free coordinates and a zero-sum vector of
:math:`n` entries has :math:`n - 1`: its density lives on a :math:`(K - 1)`-dimensional
surface, and a Hessian over all :math:`K` entries is meaningless (the Dirichlet's is not
even defined off the simplex, the zero-sum normal's has a null direction along the
constraint). pmfisher's constrained space therefore uses the free coordinates:

* a simplex (``pm.Dirichlet``, PyMC's ``SimplexTransform``): the first :math:`K - 1`
  entries along the last axis, the last one implied as :math:`p_K = 1 - \sum_{k<K} p_k`;
* a zero-sum vector (``pm.ZeroSumNormal``, ``ZeroSumTransform``): along each zero-sum axis
  the first :math:`n - 1` entries, the last one implied as minus the sum of the others.

The density in these coordinates is the model's density of the whole vector with the implied
entries filled in, so the observed information of a multinomial with probabilities
:math:`p` is the textbook :math:`n\,(\operatorname{diag}(1/p_{1..K-1}) + \mathbf{1}\mathbf{1}^\top
/ p_K)`. Labels keep the entries' own indices (``p[0]``, ``p[1]`` of a 3-simplex), so that
the implied entry is the one missing. A point still gives, and every result still shows,
all entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytensor.tensor as pt
from pymc.distributions.transforms import SimplexTransform, ZeroSumTransform

from pmfisher.errors import PointError, UnsupportedModelError

__all__ = ["FreeCoordinates", "free_coordinates"]

# How far a given point may be off its constraint (sum to one, to zero), relative to the
# size of its entries: rounding of a user's decimals, never a different point.
CONSTRAINT_TOLERANCE = 1e-8


@dataclass(frozen=True)
class FreeCoordinates:
    """The free coordinates of variable ``name`` of shape ``shape``: along each axis in
    ``axes`` the last entry is implied (``kind`` says by what constraint)."""

    name: str
    kind: Literal["simplex", "zerosum"]
    axes: tuple[int, ...]
    shape: tuple[int, ...]

    @property
    def free_shape(self) -> tuple[int, ...]:
        return tuple(n - 1 if axis in self.axes else n for axis, n in enumerate(self.shape))

    @property
    def index(self) -> tuple[slice, ...]:
        """The free entries of a full value (an index into an array of ``shape``)."""
        return tuple(
            slice(0, n - 1) if axis in self.axes else slice(None)
            for axis, n in enumerate(self.shape)
        )

    def complete(self, free: pt.TensorVariable) -> pt.TensorVariable:
        """The full value as a graph of the free coordinates (of ``free_shape``)."""
        if self.kind == "simplex":
            [axis] = self.axes
            return pt.concatenate([free, 1.0 - free.sum(axis, keepdims=True)], axis=axis)
        for axis in self.axes:
            free = pt.concatenate([free, -free.sum(axis, keepdims=True)], axis=axis)
        return free

    def reduce(self, value: np.ndarray) -> np.ndarray:
        """The free coordinates of a full value, after checking its constraint."""
        target = 1.0 if self.kind == "simplex" else 0.0
        scale = max(1.0, float(np.abs(value).max(initial=0.0)))
        for axis in self.axes:
            sums = value.sum(axis=axis)
            off = float(np.abs(sums - target).max(initial=0.0))
            if off > CONSTRAINT_TOLERANCE * scale * self.shape[axis]:
                what = "sum to one" if self.kind == "simplex" else "sum to zero"
                raise PointError(
                    f"{self.name} must {what} along axis {axis} ({self.kind} transform), but "
                    f"its sums are off by up to {off:.3g} in the point."
                )
        return value[self.index]

    def labels(self, full_labels: tuple[str, ...]) -> tuple[str, ...]:
        """The labels of the free entries, out of those of all entries (in C order)."""
        return tuple(np.asarray(full_labels, dtype=object).reshape(self.shape)[self.index].ravel())


def free_coordinates(
    name: str, transform, shape: tuple[int, ...], value_shape: tuple[int, ...]
) -> FreeCoordinates | None:
    """The free coordinates of variable ``name`` (constrained ``shape``) whose ``transform``
    maps it to a value variable of ``value_shape``; ``None`` when the dimension is kept."""
    if transform is None or tuple(shape) == tuple(value_shape):
        return None
    ndim = len(shape)
    if isinstance(transform, SimplexTransform):
        coordinates = FreeCoordinates(name, "simplex", (ndim - 1,), tuple(shape))
    elif isinstance(transform, ZeroSumTransform):
        axes = tuple(sorted(axis % ndim for axis in transform.zerosum_axes))
        coordinates = FreeCoordinates(name, "zerosum", axes, tuple(shape))
    else:
        coordinates = None
    if coordinates is None or coordinates.free_shape != tuple(value_shape):
        raise UnsupportedModelError(
            f"the {type(transform).__name__} of {name} maps its shape {tuple(shape)} to "
            f"{tuple(value_shape)}, and pmfisher knows the free coordinates only of the "
            "simplex and zero-sum transforms; use space='unconstrained'."
        )
    return coordinates
