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
    i.e. the Gaussian is exact). Above ``DENSE_FIT_LIMIT`` parameters on the sparse route
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
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pymc.backends.arviz import (
    coords_and_dims_for_inferencedata,
    find_constants,
    find_observations,
)
from pymc.logprob.utils import local_check_parameter_to_ninf_switch
from pytensor.graph import vectorize_graph
from pytensor.graph.rewriting.basic import in2out
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.tensor.rewriting.basic import local_view_op

from pmfisher._core import labelled
from pmfisher._core.compilation import compile_derived, few_calls_backend
from pmfisher._core.definiteness import NotPositiveDefinite, PositiveDefinite, positive_definite
from pmfisher._core.model_graph import ModelGraph, model_graph
from pmfisher._core.options import Space, Structure, Terms, check_option
from pmfisher._core.sparse_cholesky import sparse_positive_definite
from pmfisher._core.sparse_hessian import SparseHessian
from pmfisher._core.structure import hessian_structure
from pmfisher.approximation.importance_sampling import (
    MIN_DRAWS,
    khat_threshold,
    psis,
    systematic_resample,
)
from pmfisher.errors import PMFisherError
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode

if TYPE_CHECKING:
    from pmfisher.approximation.nested_laplace import Hyper

__all__ = ["laplace"]

ImportanceSampling = Literal["psis"]
# Above this Pareto k̂ importance-sampling estimates are unreliable (Vehtari et al., 2024).
# Up to this many parameters (32 MB per matrix) fit holds dense matrices whatever the route.
DENSE_FIT_LIMIT = 2000
# Draws are pushed forward in chunks whose estimated working memory stays below this.
PUSHFORWARD_BYTES = 256 * 2**20
# Live intermediates of the vectorized log-density per observation and draw, in float64s:
# the linear predictor, the residual, its square and the elementwise log-density, with room.
INTERMEDIATES_PER_OBSERVATION = 8


def laplace(
    *,
    model: pm.Model | None = None,
    draws: int = 4000,
    terms: Terms = "posterior",
    space: Space = "unconstrained",
    latent: Sequence[str] | str | None = None,
    hyper: Hyper = "gaussian",
    importance_sampling: ImportanceSampling | None = None,
    not_positive_definite: NotPositiveDefinite = "raise",
    structure: Structure = "auto",
    random_seed=None,
    chains: int = 2,
    tune: int = 1000,
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
    intermediates (draws × observations) stay within ``PUSHFORWARD_BYTES``. On the sparse
    route :math:`H` is formed as a sparse matrix and factorized by CHOLMOD with a
    fill-reducing permutation :math:`P`, :math:`PHP^\top = LL^\top`, and
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
        draw of :math:`\varphi`. Works in the unconstrained space, without
        ``importance_sampling``.
    hyper : {"gaussian", "nuts"}
        With ``latent``: the Gaussian at the mode of the Laplace marginal, or PyMC's NUTS
        on it (``chains`` chains of ``draws / chains`` draws after ``tune`` tuning steps).
    not_positive_definite : {"raise", "regularize"}
        What to do when :math:`H` is not positive definite at the mode: raise a
        :class:`~pmfisher.errors.NotPositiveDefiniteError` naming its smallest eigenvalues
        and the parameters that load on them, or regularize the eigenvalues and record that
        in ``attrs["regularization"]`` (dense route only).
    structure : {"auto", "dense", "sparse"}
        How :math:`H` is formed and factorized: dense with LAPACK, or sparse with CHOLMOD;
        ``"auto"`` takes the sparse route for large models with sparse Hessians
        (:mod:`pmfisher._core.structure`). Passed on to :func:`~pmfisher.find_mode`. Results
        agree to rounding.
    random_seed : int or numpy.random.Generator, optional

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
    if int(draws) != draws or draws < MIN_DRAWS:
        raise PMFisherError(
            f"draws={draws!r} must be an integer of at least {MIN_DRAWS}: the Pareto k̂ "
            "diagnostic of the approximation fits the tail of at least 5 of its weights."
        )
    draws = int(draws)
    if latent is not None:
        if space != "unconstrained" or importance_sampling is not None:
            raise PMFisherError(
                "laplace(latent=...) works in space='unconstrained' without importance_sampling "
                "(draws of the hyperparameters must stay in the support)."
            )
        # nested_laplace builds on this module's push-forward and DataTree, hence imported here.
        from pmfisher.approximation.nested_laplace import nested_laplace

        return nested_laplace(
            model=model_graph(model, space=space, terms=terms).model,
            latent=latent,
            draws=draws,
            terms=terms,
            hyper=hyper,
            not_positive_definite=not_positive_definite,
            random_seed=random_seed,
            chains=chains,
            tune=tune,
            structure=structure,
        )
    graph = model_graph(model, space=space, terms=terms)
    model = graph.model
    chosen = hessian_structure(graph, structure)
    rng = np.random.default_rng(random_seed)

    mode = require_converged(
        current_mode(model, terms=terms, space=space, structure=structure),
        advice="Reparameterize the model, or sample it with NUTS (pm.sample).",
    )
    what = f"negative Hessian of the log-{terms} at its mode ({space} space)"
    if chosen == "sparse":
        precision = sparse_positive_definite(
            -graph.companion(SparseHessian)(mode.x, backend=few_calls_backend(graph.size)),
            graph.labels,
            what=what,
            action=not_positive_definite,
        )
    else:
        precision = positive_definite(
            -np.asarray(graph.hessian_fn(mode.x)),
            graph.labels,
            what=what,
            action=not_positive_definite,
        )
        if precision.regularization:
            warnings.warn(precision.regularization, stacklevel=2)
    pushed, log_q = _pushforward(graph).draw(mode.x, precision, draws, rng)
    log_p = _require_usable_log_p(pushed.pop("log_p"), space)

    log_weights, pareto_k = psis(log_p - log_q)
    threshold = khat_threshold(draws)
    if pareto_k > threshold:
        warnings.warn(
            f"Pareto k̂ = {pareto_k:.2f} > {threshold:.2f}: the Laplace approximation of "
            f"the {terms} in the {space} space is far from it in the tails, and importance "
            "sampling cannot correct it reliably. Compare with NUTS before using it.",
            stacklevel=2,
        )
    stats = {"log_p": log_p, "log_q": log_q}
    if importance_sampling == "psis":
        chosen = systematic_resample(log_weights, draws, rng)
        pushed = {name: values[chosen] for name, values in pushed.items()}
        stats = {"log_p": log_p[chosen], "log_q": log_q[chosen], "log_weight": log_weights[chosen]}

    attrs = {
        "method": "laplace",
        "terms": terms,
        "space": space,
        "importance_sampling": importance_sampling or "none",
        "pareto_k": float(pareto_k),
        "mode_logp": float(mode.logp),
        "mode_grad_norm": float(mode.grad_norm),
        "regularization": precision.regularization,
        "structure": chosen,
    }
    fit = xr.Dataset(
        {
            "mean_vector": labelled.vector(mode.x, graph.labels, name="mean_vector"),
            **_fit_matrices(precision, graph.labels),
            "pareto_k": xr.DataArray(float(pareto_k), name="pareto_k"),
        },
        attrs=attrs,
    )
    return _datatree(model, graph, pushed, stats, fit, attrs)


def _fit_matrices(precision, labels) -> dict[str, xr.DataArray]:
    """Dense covariance and precision matrices, or the sparse precision alone for a large
    model on the sparse route."""
    if isinstance(precision, PositiveDefinite):
        matrix, covariance = precision.matrix, precision.inverse()
    elif precision.matrix.shape[0] <= DENSE_FIT_LIMIT:
        matrix = precision.matrix.toarray()
        covariance = precision.solve(np.eye(matrix.shape[0]))
    else:
        return precision.fit_variables(labels)
    return {
        "covariance_matrix": labelled.square(
            0.5 * (covariance + covariance.T), labels, name="covariance_matrix"
        ),
        "precision_matrix": labelled.square(matrix, labels, name="precision_matrix"),
    }


def _require_usable_log_p(log_p: np.ndarray, space: str) -> np.ndarray:
    """Draws where the density is not finite get zero weight, but never silently."""
    log_p = np.where(np.isnan(log_p), -np.inf, log_p)
    if np.any(log_p == np.inf):
        raise PMFisherError(
            "the log-density is +inf at some draws of the Laplace approximation: the density is "
            "unbounded near the mode, so no Gaussian approximates it."
        )
    outside = int(np.sum(~np.isfinite(log_p)))
    if outside == log_p.size:
        raise PMFisherError(
            "the log-density is not finite at any draw of the Laplace approximation; "
            "use space='unconstrained'."
        )
    if outside:
        warnings.warn(
            f"{outside} of {log_p.size} draws of the Laplace approximation in the {space} "
            "space fall outside the support (their log-density is -inf, their values in the "
            "unconstrained posterior NaN); they get zero importance weight. "
            "space='unconstrained' avoids this.",
            stacklevel=3,
        )
    return log_p


# -- the vectorized push-forward ------------------------------------------------------------


def _pushforward(graph: ModelGraph) -> _Pushforward:
    return graph.companion(_Pushforward)


def _values_pushforward(graph: ModelGraph) -> _ValuesPushforward:
    return graph.companion(_ValuesPushforward)


class _Pushforward:
    """Flat draws in the graph's space → ``log_p``, every free variable in both spaces and
    every deterministic, for all draws at once (one compiled function, built once)."""

    # The model's log-density is among the outputs (the costly one: its graph over all the
    # observations, vectorized over draws).
    with_log_p = True

    def __init__(self, graph: ModelGraph):
        model = graph.model
        self.graph = graph
        self.free_names = [rv.name for rv in graph.free_rvs]
        self.unconstrained_blocks = model_graph(
            model, space="unconstrained", terms=graph.terms
        ).blocks
        self.deterministics = list(graph.deterministics)

    @functools.cached_property
    def function(self):
        graph = self.graph
        deterministics = list(graph.deterministics.values())
        # Free variables are pushed forward whole (all K entries of a simplex).
        outputs = [graph.unconstrained, *graph.point_values, *deterministics]
        if self.with_log_p:
            outputs.insert(0, graph.logp)
        thetas = pt.matrix("thetas", dtype="float64")

        def batched():
            # A draw outside the support must give log p = -inf, not stop the whole batch;
            # a deterministic's view (which has no batched form) is the value itself.
            checked = rewrite_graph(
                outputs,
                include=(),
                custom_rewrite=in2out(local_check_parameter_to_ninf_switch, local_view_op),
                clone=True,
            )
            return vectorize_graph(checked, replace={graph.theta: thetas})

        return compile_derived(
            [thetas],
            outputs,
            batched,
            recipe="Laplace draws pushed forward" + ("" if self.with_log_p else ", no log p"),
            replaced=[graph.theta],
            # Called once per call of laplace(), on 1,000 draws by default.
            backend=few_calls_backend(graph.size, observations=1000 * self.observations),
        )

    @functools.cached_property
    def observations(self) -> int:
        return sum(int(np.size(value)) for value in find_observations(self.graph.model).values())

    def chunk_size(self, draws: int, outputs_per_draw: int) -> int:
        """Draws per chunk: the working memory of a chunk — standard normals, draws and
        outputs, and the vectorized log-density's intermediates over the observations —
        estimated to stay within ``PUSHFORWARD_BYTES``."""
        floats = (
            2 * self.graph.size
            + outputs_per_draw
            + INTERMEDIATES_PER_OBSERVATION * self.observations
        )
        return int(np.clip(PUSHFORWARD_BYTES // (8 * floats), 1, draws))

    def draw(self, mean: np.ndarray, precision, draws: int, rng):
        r"""``draws`` draws of :math:`\mathcal N(\text{mean}, \text{precision}^{-1})` pushed
        forward, in chunks of draws (:meth:`chunk_size`), and their :math:`\log q`.

        The standard normals are drawn chunk after chunk from ``rng``, which gives the same
        numbers as drawing them all at once, so the chunking never changes a result.
        """
        size = self.graph.size
        normalization = 0.5 * precision.log_determinant - 0.5 * size * np.log(2 * np.pi)
        log_q = np.empty(draws)
        pushed, chunk, start = {}, 1, 0
        while start < draws:
            stop = min(start + chunk, draws)
            standard = rng.standard_normal((stop - start, size))
            log_q[start:stop] = normalization - 0.5 * np.einsum("sd,sd->s", standard, standard)
            values = self(mean + precision.deviations(standard))
            if not pushed:
                pushed = {
                    name: np.empty((draws, *value.shape[1:]), dtype=value.dtype)
                    for name, value in values.items()
                }
                per_draw = sum(value[0].size for value in values.values())
                chunk = self.chunk_size(draws, per_draw)
            for name, value in values.items():
                pushed[name][start:stop] = value
            start = stop
        return pushed, log_q

    def __call__(self, thetas: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            outputs = self.function(thetas)
        if self.with_log_p:
            log_p, unconstrained, *rest = outputs
            pushed = {"log_p": np.asarray(log_p, dtype="float64")}
        else:
            (unconstrained, *rest), pushed = outputs, {}
        draws = thetas.shape[0]
        for name, values in zip(self.free_names, rest, strict=False):
            pushed[name] = np.asarray(values, dtype="float64")
        for block in self.unconstrained_blocks:
            values = unconstrained[:, block.start : block.stop].reshape(draws, *block.shape)
            pushed["unconstrained/" + block.name] = values
        for name, values in zip(self.deterministics, rest[len(self.free_names) :], strict=True):
            pushed[name] = np.asarray(values)
        return pushed


class _ValuesPushforward(_Pushforward):
    """:class:`_Pushforward` without ``log_p``: the values alone, for a caller that computes
    its own density over the draws (the nested Laplace's joint :math:`f(u, \\varphi)`)."""

    with_log_p = False


# -- the DataTree ---------------------------------------------------------------------------


def _datatree(model, graph, pushed, stats, fit, attrs, *, chains: int = 1) -> xr.DataTree:
    """The result's DataTree from flat draws (``chains`` chains one after the other)."""
    coords, dims = coords_and_dims_for_inferencedata(model)

    def by_chain(values):
        return np.asarray(values).reshape(chains, -1, *np.shape(values)[1:])

    constrained, unconstrained = {}, {}
    for name, values in pushed.items():
        if name.startswith("unconstrained/"):
            unconstrained[name.removeprefix("unconstrained/")] = by_chain(values)
        else:
            constrained[name] = by_chain(values)
    # A value variable keeps its random variable's dims when the transform keeps the shape.
    unconstrained_dims = {}
    for rv in graph.free_rvs:
        value_name = model.rvs_to_values[rv].name
        rv_dims = dims.get(rv.name)
        if rv_dims and unconstrained[value_name].shape == constrained[rv.name].shape:
            unconstrained_dims[value_name] = rv_dims

    from arviz_base import dict_to_dataset  # 0.2 s, imported when a DataTree is first built

    def dataset(data, dims, **kwargs):
        return dict_to_dataset(data, inference_library=pm, coords=coords, dims=dims, **kwargs)

    groups = {
        "posterior": dataset(constrained, dims, attrs=attrs),
        "unconstrained_posterior": dataset(unconstrained, unconstrained_dims),
        "fit": fit,
        "sample_stats": dataset({name: by_chain(value) for name, value in stats.items()}, {}),
        "observed_data": dataset(find_observations(model), dims, sample_dims=[]),
        "constant_data": dataset(find_constants(model), dims, sample_dims=[]),
    }
    tree = xr.DataTree.from_dict(groups)
    tree.attrs = dict(attrs)
    return tree
