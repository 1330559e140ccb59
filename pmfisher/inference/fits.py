"""The estimate a summary is about, and the covariance it reads standard errors from: the
mode of the likelihood (or posterior) with its observed, expected or sandwich information,
or the mode of the Laplace marginal with latent variables integrated out."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import ArgumentError, NotPositiveDefiniteError
from pmfisher.fitting.boundary import RUNAWAY
from pmfisher.fitting.laplace_marginal import LaplaceMarginal, laplace_marginal
from pmfisher.fitting.mode import Mode
from pmfisher.fitting.mode_cache import current_mode
from pmfisher.fitting.newton_search import GRADIENT_TOLERANCE
from pmfisher.inference.components import FIXED, conditional_modes, parameter_roles
from pmfisher.inference.wald import Covariance, covariance_from_information
from pmfisher.information.fisher import fisher_information
from pmfisher.information.observed import observed_information
from pmfisher.information.sandwich import sandwich_covariance

__all__ = ["Fit", "joint_fit", "marginal_fit"]


@dataclass(frozen=True)
class Fit:
    """An estimate in the constrained space with its covariance.

    ``labels``, ``estimates``, ``roles`` (``"fixed effect"`` / ``"variance component"``)
    are per row; ``point`` is every free variable (latent ones at their conditional mode);
    ``at_boundary`` marks the rows whose unconstrained coordinate ran off to the edge;
    ``converged`` and ``message`` come from the mode search (or say the point was given).
    """

    labels: tuple[str, ...]
    estimates: np.ndarray
    covariance: Covariance
    logp: float
    converged: bool
    message: str
    point: dict
    roles: tuple[str, ...]
    at_boundary: np.ndarray
    blocks: tuple
    marginal: LaplaceMarginal | None = None
    conditional_modes: xr.Dataset | None = field(default=None, repr=False)


def joint_fit(point, model: pm.Model, *, terms, information, structure, random_seed) -> Fit:
    """The mode of ``terms`` (or ``point``) with the covariance of ``information``."""
    graph = model_graph(model, space="constrained", terms=terms)
    if information != "observed" and terms != "likelihood":
        raise ArgumentError(
            f"information={information!r} is a property of the likelihood; with "
            "terms='posterior' the summary uses the observed information."
        )
    if point is None:
        point = current_mode(model, terms=terms, space="constrained", structure=structure)
    converged, message = _search_outcome(point)
    x = graph.flatten(point)
    logp = float(graph.check_in_support(x))
    with warnings.catch_warnings():  # a singular matrix is reported on the table instead
        warnings.simplefilter("ignore", UserWarning)
        if information == "expected":
            matrix = fisher_information(
                point, model=model, random_seed=random_seed, structure=structure
            ).matrix
        else:
            matrix = observed_information(point, model=model, terms=terms, structure=structure)
    covariance = covariance_from_information(_dense(matrix), graph.labels)
    if information == "sandwich" and not covariance.unidentified.any():
        try:
            sandwich = sandwich_covariance(point, model=model).values
        except NotPositiveDefiniteError as error:  # at a point that is not a maximum
            covariance = Covariance(
                np.full_like(covariance.matrix, np.nan), np.ones(graph.size, bool), str(error)
            )
        else:
            covariance = Covariance(sandwich, covariance.unidentified)
    return Fit(
        labels=graph.labels,
        estimates=x,
        covariance=covariance,
        logp=logp,
        converged=converged,
        message=message,
        point=graph.constrained_point(x),
        roles=(FIXED,) * graph.size,
        at_boundary=_at_boundary(
            model, terms, graph.blocks, point, graph, x, converged, _edge(point)
        ),
        blocks=graph.blocks,
    )


def marginal_fit(point, model: pm.Model, *, terms, latent, information, structure) -> Fit:
    """The mode of the Laplace marginal over the variables not in ``latent`` (or ``point``)
    with the inverse of the marginal's observed information."""
    if information != "observed":
        raise ArgumentError(
            f"information={information!r} with latent variables: the summary of a Laplace "
            "marginal uses its observed information (information='observed')."
        )
    marginal = laplace_marginal(
        model, latent, space="constrained", terms=terms, structure=structure
    )
    if point is None:
        point = current_mode(
            model, terms=terms, space="constrained", latent=latent, structure=structure
        )
    converged, message = _search_outcome(point)
    phi = marginal.flatten(point)
    logp = marginal.value(phi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        matrix = observed_information(
            point, model=model, terms=terms, latent=latent, structure=structure
        )
    roles = parameter_roles(marginal)
    full = marginal.constrained_point(phi)
    return Fit(
        labels=marginal.labels,
        estimates=phi,
        covariance=covariance_from_information(matrix.values, marginal.labels),
        logp=logp,
        converged=converged,
        message=message,
        point=full,
        roles=tuple(roles[block.rv_name] for block in marginal.blocks for _ in block.labels),
        at_boundary=_at_boundary(
            model, terms, marginal.blocks, full, marginal, phi, converged, _edge(point)
        ),
        blocks=marginal.blocks,
        marginal=marginal,
        conditional_modes=conditional_modes(marginal, phi),
    )


def _edge(point) -> tuple[str, ...]:
    """The free variables a search found at the edge of their support (none for a point)."""
    return point.boundary if isinstance(point, Mode) else ()


def _search_outcome(point) -> tuple[bool, str]:
    if isinstance(point, Mode):
        return point.converged, point.message
    return True, ""


def _at_boundary(
    model, terms, blocks, point, density, x, converged: bool, edge: tuple[str, ...]
) -> np.ndarray:
    """Per row of ``blocks`` (constrained): whether the estimate sits at the edge of the
    support (a standard deviation at 0) — its unconstrained coordinate ran off, or, where the
    search did not converge, the density still climbs along it in the constrained space
    (find_mode's test of a boundary maximum, per coordinate), or find_mode found the
    variable at the edge (``edge``: where the density no longer changes towards it, as a
    variance component's marginal likelihood does not near 0)."""
    unconstrained = model_graph(model, space="unconstrained", terms=terms)
    by_name = {block.rv_name: block for block in unconstrained.blocks}
    # The same point in the other coordinates, on purpose: a posterior Mode found in the
    # constrained space is no mode of the unconstrained density, and is not offered as one.
    values = unconstrained.flatten(point.point if isinstance(point, Mode) else point)
    steep = np.zeros(len(x), dtype=bool)
    if not converged:
        logp, gradient = density.logp_and_grad_fn(x)
        steep = np.abs(np.asarray(gradient)) > GRADIENT_TOLERANCE * max(1.0, abs(float(logp)))
    flags = []
    for block in blocks:
        twin = by_name[block.rv_name]
        transformed = model.rvs_to_transforms.get(model[block.rv_name]) is not None
        if block.rv_name in edge:
            flags += [True] * block.size
        elif twin.size != block.size or not transformed:
            flags += [False] * block.size
        else:
            ran_off = np.abs(values[twin.start : twin.stop]) > RUNAWAY
            flags += list(ran_off | steep[block.start : block.stop])
    return np.asarray(flags, dtype=bool)


def _dense(matrix: xr.DataArray) -> np.ndarray:
    data = matrix.data
    return np.asarray(data.todense() if hasattr(data, "todense") else data, dtype="float64")
