r"""The target density: what every public function is about.

A call differentiates one density, named by three choices — ``terms`` (the likelihood, or
the posterior), ``space`` (the coordinates) and ``latent`` (the free variables integrated
out by a Laplace approximation) — and built once from them and the model:
:class:`~pmfisher._core.model.model_graph.ModelGraph` when nothing is integrated out,
:class:`~pmfisher.fitting.laplace_marginal.LaplaceMarginal` otherwise. Both play the role
:class:`TargetDensity` declares, so a public function reads the same way whichever it holds:
target → point → quantity → labels.

A :class:`~pmfisher.Mode` remembers the density it maximized. Given to a function about
another density it is refused with a :class:`~pmfisher.errors.PointError` saying which
choice differs, never silently re-read as a plain point: the likelihood's mode read as the
posterior's, or the posterior's constrained mode as its unconstrained one (the two differ by
the log-Jacobian), would give the curvature at a point that is no mode of what is
differentiated. Only where the two densities have the same maximizer is it converted
exactly: the likelihood (marginal or not) is invariant to reparameterization, so its mode
in one space is its mode in the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import pymc as pm

from pmfisher._core.options import Structure, check_option
from pmfisher.errors import ArgumentError, PointError

# Why a call has no route with latent variables integrated out.
NO_MARGINAL_SCORES = (
    "the Laplace marginal does not split into per-observation terms, so it has no "
    "per-observation scores."
)
NO_MARGINAL_FISHER = "the expected information of the Laplace marginal is not available yet."

__all__ = [
    "NO_MARGINAL_FISHER",
    "NO_MARGINAL_SCORES",
    "TargetDensity",
    "density_name",
    "point_values",
    "refuse_latent",
    "refuse_sparse",
]


@runtime_checkable
class TargetDensity(Protocol):
    """A log-density of a flat parameter vector, with its exact derivatives.

    ``labels`` name the entries of the vector (``size`` of them) in ``space``; ``flatten``
    turns a point (or a ``Mode`` of this density) into the vector, ``constrained_point``
    turns a vector back into free-variable name → value.
    """

    model: pm.Model
    terms: str
    space: str
    latent: tuple[str, ...]
    labels: tuple[str, ...]
    size: int

    def flatten(self, point) -> np.ndarray: ...

    def constrained_point(self, flat: np.ndarray) -> dict[str, np.ndarray]: ...

    def logp_fn(self, flat: np.ndarray) -> float: ...

    def logp_and_grad_fn(self, flat: np.ndarray) -> tuple[float, np.ndarray]: ...

    def hessian_fn(self, flat: np.ndarray) -> np.ndarray: ...


def density_name(terms: str, space: str, latent) -> str:
    """The density in words: ``the log-likelihood``, ``the log-posterior (unconstrained
    space)``, ``the Laplace marginal log-likelihood over all but b``."""
    latent = tuple(latent or ())
    name = f"the log-{terms}" if not latent else f"the Laplace marginal log-{terms}"
    if latent:
        name += f" with {', '.join(latent)} integrated out"
    if terms == "posterior":
        name += f" ({space} space)"
    return name


def point_values(point, target) -> Mapping:
    """The values of ``point`` (free-variable name → value), for ``target``.

    ``point`` is a mapping, or a ``Mode`` (anything with ``point``, ``terms``, ``space`` and
    ``latent``). A ``Mode`` of another density than ``target``'s is refused (module
    docstring): a :class:`PointError` says which choice differs and how to use its values on
    purpose (``mode.point``).
    """
    if isinstance(point, Mapping):
        return point
    values = getattr(point, "point", None)
    if not isinstance(values, Mapping):
        raise PointError(
            f"a point must map free-variable names to values, got {type(point).__name__}."
        )
    found = _density(point.terms, point.space, getattr(point, "latent", ()))
    wanted = _density(target.terms, target.space, target.latent)
    if found != wanted:
        raise PointError(
            f"this Mode maximizes {density_name(point.terms, point.space, point.latent)}, but "
            f"the call differentiates {density_name(target.terms, target.space, target.latent)}"
            f": {_difference(found, wanted)}. Its point is no mode of the density this call is "
            "about. Find that mode (find_mode with the same terms, space and latent, or leave "
            "point=None), or pass mode.point to evaluate there on purpose."
        )
    return values


def _density(terms: str, space: str, latent) -> tuple:
    """What decides a density's maximizer: the space matters for the posterior only (its
    unconstrained density carries the log-Jacobian)."""
    return terms, tuple(sorted(latent or ())), space if terms == "posterior" else None


def _difference(found: tuple, wanted: tuple) -> str:
    differences = []
    if found[0] != wanted[0]:
        differences.append(f"terms={found[0]!r} against terms={wanted[0]!r}")
    if found[1] != wanted[1]:
        differences.append(f"latent={list(found[1]) or None} against {list(wanted[1]) or None}")
    if found[2] != wanted[2]:
        differences.append(f"space={found[2]!r} against space={wanted[2]!r}")
    return "; ".join(differences)


def refuse_latent(latent, call: str, reason: str) -> None:
    """An :class:`ArgumentError` for ``latent`` given to a call that has no route with latent
    variables integrated out, saying why (``latent=None`` passes)."""
    if latent is not None:
        raise ArgumentError(
            f"{call}(latent=...) is not available: {reason} "
            "observed_information(latent=...) gives the curvature of the Laplace marginal."
        )


def refuse_sparse(structure, call: str, reason: str) -> None:
    """Check ``structure`` for a call whose result is dense whatever the route: ``"auto"``
    and ``"dense"`` pass, ``"sparse"`` is an :class:`ArgumentError` saying why."""
    check_option("structure", structure, Structure)
    if structure == "sparse":
        raise ArgumentError(f"{call}(structure='sparse') is not available: {reason}")
