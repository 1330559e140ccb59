r"""The Laplace approximation: a Gaussian at the mode with the exact curvature there.

Structure of the result (an :class:`xarray.DataTree`; other modules rely on it):

``posterior``
    Every free variable in the constrained space and every deterministic, dims
    ``chain`` (one chain) × ``draw`` × the model's dims and coords. With
    ``importance_sampling="psis"`` these are the PSIS-resampled draws.
``unconstrained_posterior``
    The same draws as PyMC's value variables (``sigma_log__``), named as in the model.
``fit``
    ``mean_vector`` (dim ``param``), ``covariance_matrix`` and ``precision_matrix`` (dims
    ``param_i`` × ``param_j``), labelled like ``"beta[x1]"`` in the approximation's
    ``space``, and the scalar ``pareto_k`` (``-inf`` when the importance ratios are constant,
    i.e. the Gaussian is exact), ``log_marginal_likelihood*`` (:mod:`.marginal_likelihood`).
    Above ``DENSE_FIT_LIMIT`` parameters on the sparse route
    (``attrs["structure"] == "sparse"``) the dense d × d covariance could not be held in
    memory, so ``fit`` holds no ``covariance_matrix`` and its ``precision_matrix`` is backed by
    a pydata ``sparse.COO`` array (``fit["precision_matrix"].data.tocsr()`` for SciPy).
``sample_stats``
    ``log_p`` (the log-density of ``terms`` in ``space``, up to its normalizing constant) and
    ``log_q`` (the Gaussian's normalized log-density) per draw; with PSIS also
    ``log_weight``, the smoothed normalized log importance weight of the Gaussian draw each
    posterior draw was resampled from.
``observed_data``, ``constant_data``
    The model's observations and ``pm.Data`` containers (possibly empty groups).

The root, ``posterior`` and ``fit`` carry the same ``attrs``: ``method="laplace"``, ``terms``,
``space`` (which density was differentiated, in which coordinates), ``structure``
(``"dense"`` or ``"sparse"``: the route taken), ``importance_sampling``
(``"none"`` or ``"psis"``), ``pareto_k``, ``mode_logp``, ``mode_grad_norm`` and
``regularization`` (``""``, or what was done to a precision that was not positive definite).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.compiled.compilation import few_calls_backend
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.curvature.structure import hessian_structure
from pmfisher._core.linalg.definiteness import PositiveDefinite, positive_definite
from pmfisher._core.linalg.sparse_cholesky import sparse_positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher._core.options import (
    Conditional,
    Hyper,
    ImportanceSampling,
    NotPositiveDefinite,
    Space,
    Structure,
    Terms,
    check_option,
)
from pmfisher._core.progress import progress_switch
from pmfisher.approximation.importance_sampling import (
    MIN_DRAWS,
    khat_threshold,
    psis,
    systematic_resample,
)
from pmfisher.approximation.laplace_draws import laplace_datatree, pushforward
from pmfisher.approximation.marginal_likelihood import DEFAULT_NODES, joint_fit
from pmfisher.approximation.nested_laplace import nested_laplace
from pmfisher.errors import ArgumentError, NotFiniteError, warn
from pmfisher.fitting.laplace_marginal import LaplaceMarginal
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode
from pmfisher.fitting.target_density import target_density

__all__ = ["laplace"]

# Up to this many parameters (32 MB per matrix) fit holds dense matrices whatever the route.
DENSE_FIT_LIMIT = 2000


@progress_switch
def laplace(
    *,
    model: pm.Model | None = None,
    draws: int = 4000,
    terms: Terms = "posterior",
    space: Space = "unconstrained",
    latent: Sequence[str] | str | None = None,
    hyper: Hyper = "gaussian",
    nodes: int | str = DEFAULT_NODES,
    conditional: Conditional = "mean_corrected",
    importance_sampling: ImportanceSampling | None = None,
    not_positive_definite: NotPositiveDefinite = "raise",
    structure: Structure = "auto",
    random_seed=None,
    chains: int = 2,
    tune: int = 1000,
    progressbar: bool = True,
) -> xr.DataTree:
    r"""Laplace approximation :math:`\mathcal N(\hat\theta, H^{-1})` of the log-density of
    ``terms`` in ``space``, with draws, deterministics and its Pareto :math:`\hat k`.

    :math:`\hat\theta` is the mode of :math:`\log p(\theta)` (:func:`~pmfisher.find_mode`)
    and :math:`H = -\nabla^2_\theta \log p(\hat\theta)` the exact negative Hessian there, so
    that

    .. math::

        \log p(\theta) \approx \log p(\hat\theta)
        - \tfrac12 (\theta-\hat\theta)^\top H\, (\theta-\hat\theta).

    With :math:`H = LL^\top`, the draws are :math:`\theta_s = \hat\theta + L^{-\top} z_s`,
    :math:`z_s \sim \mathcal N(0, I)`, pushed through the transforms and every
    deterministic by one vectorized compiled function, in chunks of draws sized so that its
    intermediates (draws × observations) stay within
    :data:`~pmfisher.approximation.laplace_draws.PUSHFORWARD_BYTES`. On the sparse route
    :math:`H` is formed as a sparse matrix and factorized by CHOLMOD with a fill-reducing
    permutation :math:`P`, :math:`PHP^\top = LL^\top`, and
    :math:`\theta_s = \hat\theta + P^\top L^{-\top} z_s`; the log-determinant in
    :math:`\log q` is :math:`2\sum_i \log L_{ii}` either way. The importance ratios
    :math:`r_s = \log p(\theta_s) - \log q(\theta_s)` are Pareto-smoothed (PSIS); their
    :math:`\hat k` says how far the Gaussian is from the density it approximates
    (:math:`\hat k < 0.5` good, :math:`> 0.7` unreliable, warned about).

    Parameters
    ----------
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    draws : int
        Number of draws from the approximation.
    terms : {"posterior", "likelihood"}
        The density approximated: the posterior, or the likelihood (the asymptotic
        :math:`\mathcal N(\hat\theta_{\rm MLE}, J_n^{-1})`).
    space : {"unconstrained", "constrained"}
        Where the Gaussian lives. In the unconstrained space (the default) every draw is in
        the support; in the constrained space draws outside it get zero importance weight
        (and a warning).
    importance_sampling : {None, "psis"}
        ``"psis"`` resamples the draws with their PSIS weights, which corrects the moments
        wherever :math:`\hat k` allows it.
    latent : list of str, optional
        Free variables integrated out by a Laplace approximation at their conditional mode
        (:mod:`pmfisher.approximation.nested_laplace`): the hyperparameters :math:`\varphi`
        come from ``hyper``, the latent variables from their conditional Gaussian given each
        draw of :math:`\varphi`; in the unconstrained space, without ``importance_sampling``.
    hyper, nodes : {"gaussian", "quadrature", "nuts"}, int or "auto"
        With ``latent``: the Gaussian at the mode of the Laplace marginal, adaptive
        quadrature on it, ``nodes`` (odd) Gauss–Hermite nodes per dimension or ``"auto"``,
        enough for an error bound below 1e-3 nats (``adaptive_quadrature``),
        or PyMC's NUTS on it (``chains`` chains of ``draws / chains`` after ``tune`` steps).
    conditional : {"mean_corrected", "gaussian"}
        With ``latent``: the latent variables given each draw of :math:`\varphi` are drawn
        from :math:`\mathcal N(\hat u_\varphi + \delta_\varphi, H^{-1})`. Centred at the
        conditional mode (``"gaussian"``, R-INLA's Gaussian strategy, :math:`\delta = 0`), a
        skewed conditional (few counts) puts the latent means off by a tenth of a standard
        deviation and more; ``"mean_corrected"`` moves them to the conditional mean to first
        order, :math:`\delta = -\tfrac12 H^{-1}\nabla_u\log\det H` at :math:`\hat u`
        (the third-order expansion of :math:`\log p(u \mid \varphi, y)`,
        :mod:`pmfisher.fitting.conditional_mean`). Where the conditional is Gaussian both are
        the same draws. Recorded in ``attrs["conditional"]``.
    not_positive_definite : {"raise", "regularize"}
        What to do when :math:`H` is not positive definite at the mode: raise a
        :class:`~pmfisher.errors.NotPositiveDefiniteError` naming its smallest eigenvalues
        and the parameters that load on them, or regularize the eigenvalues and record that
        in ``attrs["regularization"]`` (dense route only).
    structure : {"auto", "dense", "sparse"}
        How :math:`H` is formed and factorized: dense with LAPACK, or sparse with CHOLMOD;
        ``"auto"`` takes the sparse route for large models with sparse Hessians
        (:mod:`pmfisher._core.curvature.structure`). Passed on to :func:`~pmfisher.find_mode`.
        Results agree to rounding.
    random_seed : int or numpy.random.Generator, optional
        Seeds the draws (and NUTS); the mode search has its own fixed seed, so a generator
        passed here is consumed by the draws alone.
    progressbar : bool
        Show the progress of long work — NUTS on the Laplace marginal with
        ``hyper="nuts"``, slow compiles — as PyMC does, when stderr is a terminal or a
        notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior``, ``unconstrained_posterior``, ``fit``, ``sample_stats``,
        ``observed_data``, ``constant_data``, described in the module docstring.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import laplace
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.5, 1.5, 1.0])
    >>> result = laplace(model=model, random_seed=1)
    >>> float(result.fit["mean_vector"].sel(param="mu"))          # Σy / (n + 1)
    0.75
    >>> float(result.fit["covariance_matrix"].sel(param_i="mu", param_j="mu"))  # 1 / (n + 1)
    0.25
    >>> result.posterior["mu"].sizes["draw"]
    4000
    """
    check_option("terms", terms, Terms)
    check_option("space", space, Space)
    if importance_sampling is not None:
        check_option("importance_sampling", importance_sampling, ImportanceSampling)
    check_option("not_positive_definite", not_positive_definite, NotPositiveDefinite)
    check_option("conditional", conditional, Conditional)
    if int(draws) != draws or draws < MIN_DRAWS:
        raise ArgumentError(
            f"draws={draws!r} must be an integer of at least {MIN_DRAWS}: the Pareto k̂ "
            "diagnostic of the approximation fits the tail of at least 5 of its weights."
        )
    target = target_density(model, terms=terms, space=space, latent=latent, structure=structure)
    options = _Options(
        draws=int(draws),
        hyper=hyper,
        nodes=nodes,
        conditional=conditional,
        importance_sampling=importance_sampling,
        not_positive_definite=not_positive_definite,
        structure=structure,
        random_seed=random_seed,
        chains=chains,
        tune=tune,
        progressbar=progressbar,
    )
    return _approximation(target, options)


@dataclass(frozen=True)
class _Options:
    """The options of a :func:`laplace` call, for the approximation its target takes."""

    draws: int
    hyper: Hyper
    nodes: int
    conditional: Conditional
    importance_sampling: ImportanceSampling | None
    not_positive_definite: NotPositiveDefinite
    structure: Structure
    random_seed: object
    chains: int
    tune: int
    progressbar: bool


@functools.singledispatch
def _approximation(graph: ModelGraph, options: _Options) -> xr.DataTree:
    """The approximation of the target's type: for the model's own density (a
    :class:`ModelGraph`), the Gaussian at its mode, checked by importance sampling."""
    terms, space, model = graph.terms, graph.space, graph.model
    mode = require_converged(
        current_mode(model, terms=terms, space=space, structure=options.structure),
        advice="Reparameterize the model, or sample it with NUTS (pm.sample).",
    )
    chosen = hessian_structure(graph, options.structure)
    rng = np.random.default_rng(options.random_seed)
    what = f"negative Hessian of the log-{terms} at its mode ({space} space)"
    if chosen == "sparse":
        precision = sparse_positive_definite(
            -graph.companion(SparseHessian)(mode.x, backend=few_calls_backend(graph.size)),
            graph.labels,
            what=what,
            action=options.not_positive_definite,
        )
    else:
        precision = positive_definite(
            -np.asarray(graph.hessian_fn(mode.x)),
            graph.labels,
            what=what,
            action=options.not_positive_definite,
        )
        if precision.regularization:
            warn(precision.regularization)
    draws = options.draws
    pushed, log_q = pushforward(graph).draw(mode.x, precision, draws, rng)
    log_p = _require_usable_log_p(pushed.pop("log_p"), space)

    log_weights, pareto_k = psis(log_p - log_q)
    threshold = khat_threshold(draws)
    if pareto_k > threshold:
        warn(
            f"Pareto k̂ = {pareto_k:.2f} > {threshold:.2f}: the Laplace approximation of "
            f"the {terms} in the {space} space is far from it in the tails, and importance "
            "sampling cannot correct it reliably. Compare with NUTS before using it.",
        )
    stats = {"log_p": log_p, "log_q": log_q}
    if options.importance_sampling == "psis":
        resampled = systematic_resample(log_weights, draws, rng)
        pushed = {name: values[resampled] for name, values in pushed.items()}
        stats = {
            "log_p": log_p[resampled],
            "log_q": log_q[resampled],
            "log_weight": log_weights[resampled],
        }

    likelihood = joint_fit(model, terms, space, log_p - log_q, mode.logp, precision)
    attrs = {
        "method": "laplace",
        "terms": terms,
        "space": space,
        **likelihood.attrs,
        "importance_sampling": options.importance_sampling or "none",
        "pareto_k": float(pareto_k),
        "mode_logp": float(mode.logp),
        "mode_grad_norm": float(mode.grad_norm),
        "regularization": precision.regularization,
        "structure": chosen,
    }
    fit = xr.Dataset(
        {
            **_fit_arrays(mode.x, precision, graph.labels),
            "pareto_k": xr.DataArray(float(pareto_k), name="pareto_k"),
            **likelihood.data_vars,
        },
        attrs=attrs,
    )
    return laplace_datatree(model, graph, pushed, stats, fit, attrs)


@_approximation.register
def _(marginal: LaplaceMarginal, options: _Options) -> xr.DataTree:
    """For a Laplace marginal (latent variables integrated out): the hyperparameters by
    ``hyper``, the latent variables Gaussian given each of them (:func:`nested_laplace`)."""
    if marginal.space != "unconstrained" or options.importance_sampling is not None:
        raise ArgumentError(
            "laplace(latent=...) works in space='unconstrained' without importance_sampling "
            "(draws of the hyperparameters must stay in the support)."
        )
    return nested_laplace(
        model=marginal.model,
        latent=list(marginal.latent),
        draws=options.draws,
        terms=marginal.terms,
        hyper=options.hyper,
        conditional=options.conditional,
        not_positive_definite=options.not_positive_definite,
        random_seed=options.random_seed,
        chains=options.chains,
        tune=options.tune,
        structure=options.structure,
        nodes=options.nodes,
        progressbar=options.progressbar,
    )


def _fit_arrays(mean, precision, labels) -> dict[str, xr.DataArray]:
    """The Gaussian's mean vector with its dense covariance and precision matrices, or with
    the sparse precision alone for a large model on the sparse route."""
    arrays = {"mean_vector": labelled.vector(mean, labels, name="mean_vector")}
    if isinstance(precision, PositiveDefinite):
        matrix, covariance = precision.matrix, precision.inverse()
    elif precision.matrix.shape[0] <= DENSE_FIT_LIMIT:
        matrix = precision.matrix.toarray()
        covariance = precision.solve(np.eye(matrix.shape[0]))
    else:
        return arrays | precision.fit_variables(labels)
    return arrays | {
        "covariance_matrix": labelled.square(
            0.5 * (covariance + covariance.T), labels, name="covariance_matrix"
        ),
        "precision_matrix": labelled.square(matrix, labels, name="precision_matrix"),
    }


def _require_usable_log_p(log_p: np.ndarray, space: str) -> np.ndarray:
    """Draws where the density is not finite get zero weight, but never silently."""
    log_p = np.where(np.isnan(log_p), -np.inf, log_p)
    if np.any(log_p == np.inf):
        raise NotFiniteError(
            "the log-density is +inf at some draws of the Laplace approximation: the density is "
            "unbounded near the mode, so no Gaussian approximates it."
        )
    outside = int(np.sum(~np.isfinite(log_p)))
    if outside == log_p.size:
        raise NotFiniteError(
            "the log-density is not finite at any draw of the Laplace approximation; "
            "use space='unconstrained'."
        )
    if outside:
        warn(
            f"{outside} of {log_p.size} draws of the Laplace approximation in the {space} "
            "space fall outside the support (their log-density is -inf, their values in the "
            "unconstrained posterior NaN); they get zero importance weight. "
            "space='unconstrained' avoids this.",
        )
    return log_p
