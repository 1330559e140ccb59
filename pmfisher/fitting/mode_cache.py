"""The mode of a model at its current data, found once and reused.

``observed_information()``, ``sandwich_covariance()``, ``information_matrix_test()`` and
``laplace()`` called without a point all need the mode of the same density (with or without
latent variables integrated out); a notebook calls
them one after the other. :func:`current_mode` keeps the :class:`~pmfisher.fitting.mode.Mode`
beside the model's graph (:meth:`ModelGraph.companion`), keyed by a digest of the current
values of every data container the density reads, so that after ``pm.set_data`` the mode is
searched again rather than returned for the old data. A failed search is kept too: asking
again gives the same answer without searching again.

The restarts of the search draw from a fixed seed, so that the mode does not depend on which
call found it first (and a caller's random stream is not consumed by a search it may skip).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm

from pmfisher._core.compiled.graph_digest import data_digest
from pmfisher._core.model.model_graph import ModelGraph, model_graph
from pmfisher._core.options import Space, Structure, Terms
from pmfisher.fitting.mode import Mode, find_mode, require_converged

__all__ = ["current_mode", "point_on"]

# Seed of the jittered restarts of a cached search.
RESTART_SEED = 20_240_611


def current_mode(
    model: pm.Model | None,
    *,
    terms: Terms,
    space: Space,
    structure: Structure = "auto",
    latent: Sequence[str] | str | None = None,
) -> Mode:
    """The mode of ``terms`` in ``space``, with ``latent`` integrated out, at the model's
    current data (converged or not: callers decide with
    :func:`~pmfisher.fitting.mode.require_converged`).

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3])
    >>> first = current_mode(model, terms="likelihood", space="constrained")
    >>> current_mode(model, terms="likelihood", space="constrained") is first
    True
    """
    graph = model_graph(model, space=space, terms=terms)
    modes = graph.companion(_Modes)
    digest = data_digest([graph.logp])
    if not any(key[0] == digest for key in modes.found):
        modes.found.clear()  # only the current data's modes are worth keeping
    latent = (latent,) if isinstance(latent, str) else tuple(latent or ())
    key = (digest, structure, latent)
    if key not in modes.found:
        modes.found[key] = find_mode(
            model=graph.model,
            terms=terms,
            space=space,
            latent=list(latent) or None,
            structure=structure,
            random_seed=RESTART_SEED,
        )
    return modes.found[key]


class _Modes:
    """The modes found for one graph, by data digest."""

    def __init__(self, graph: ModelGraph):
        self.found: dict[tuple[str, str, tuple[str, ...]], Mode] = {}


def point_on(target, point, *, structure: Structure = "auto") -> np.ndarray:
    """The flat vector of ``point`` on ``target`` (a :class:`~pmfisher._core.model.target.
    TargetDensity`), checked to lie in the support; ``None`` means the target's own mode at
    the current data, which must have converged.

    Every public function that takes a point reads it here, so ``point=None`` means one
    thing everywhere: the mode of the density the call is about (the MLE for the likelihood).
    """
    if point is None:
        point = require_converged(
            current_mode(
                target.model,
                terms=target.terms,
                space=target.space,
                latent=list(target.latent) or None,
                structure=structure,
            )
        )
    x = target.flatten(point)
    if not target.latent:
        target.check_in_support(x)
    return x
