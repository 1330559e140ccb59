"""Expected (Fisher) information: exactly from closed forms, or by simulation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr
from scipy import sparse

from pmfisher._core.curvature import memory
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.seeds import child_seeds
from pmfisher._core.data.simulation import require_forward_samplers, simulator
from pmfisher._core.linalg.definiteness import require_finite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent
from pmfisher._core.options import Method, Space, Structure, check_option
from pmfisher._core.progress import progress_bar, progress_switch
from pmfisher.errors import ArgumentError, warn
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.exact_fisher import (
    exact_fisher_matrix,
    fisher_structure,
    unsupported_reason,
)
from pmfisher.information.quadrature_fisher import quadrature_fisher_matrix
from pmfisher.information.sparse_fisher import SparseFisher

__all__ = ["FisherInformation", "fisher_information"]


# Above this many paired standard errors, the two Monte Carlo estimators are said to disagree.
AGREEMENT_LIMIT = 4.0
# Monte Carlo runs in at least this many chunks, so that its progress bar moves.
PROGRESS_STEPS = 20


@dataclass(frozen=True)
class FisherInformation:
    r"""The Fisher information of the whole data set at a point.

    Attributes
    ----------
    matrix : xarray.DataArray
        The estimate to use: the exact matrix, or (Monte Carlo) whichever of the two
        estimators has the smaller summed squared MCSE when they agree within
        ``AGREEMENT_LIMIT`` paired standard errors, and the score covariance (with a
        warning) when they do not; ``matrix.attrs["estimator"]`` says which.
    score_covariance : xarray.DataArray
        :math:`E[s s^\top]`, the covariance of the total score.
    negative_hessian : xarray.DataArray
        :math:`-E[\nabla^2 \ell]`, the negative expected Hessian.
    mcse : xarray.Dataset
        Monte Carlo standard error per entry of ``score_covariance``, ``negative_hessian``
        and ``matrix`` (zeros for ``method="exact"``).
    method : str
        ``"exact"`` or ``"monte_carlo"`` — what was used.
    max_standardized_difference : float or None
        Monte Carlo only: the largest, over entries, of
        :math:`|\overline{D}| / \mathrm{se}(\overline{D})` with
        :math:`D_r = s_r s_r^\top + \nabla^2 \ell_r` per replicate — how far the two
        estimators disagree in units of their (paired) Monte Carlo error; values beyond 3–4
        cast doubt on the information equality for the model (or on ``replicates``).
    replicates : int or None
        Number of simulated data sets (``None`` for the exact method).

    Every matrix's ``attrs["structure"]`` says which route computed it. The matrices are
    dense (``.values`` is NumPy) unless ``structure="sparse"`` asked for sparse ones or a
    dense one would exceed 256 MiB: then they are backed by a pydata ``sparse.COO`` array
    (``.data.tocsc()`` for SciPy).
    """

    matrix: xr.DataArray
    score_covariance: xr.DataArray
    negative_hessian: xr.DataArray
    mcse: xr.Dataset
    method: str
    max_standardized_difference: float | None = None
    replicates: int | None = None


@progress_switch
def fisher_information(
    point=None,
    *,
    model: pm.Model | None = None,
    space: Space = "constrained",
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    method: Method = "auto",
    replicates: int = 1000,
    random_seed=None,
    progressbar: bool = True,
) -> FisherInformation:
    r"""Expected (Fisher) information of the whole data set at ``point``.

    .. math::

        I(\theta) = E_\theta\!\left[s\,s^\top\right]
                  = -E_\theta\!\left[\nabla^2_\theta \ell(\theta; Y)\right],
        \qquad s = \nabla_\theta \ell(\theta; Y),

    the expectation over data sets :math:`Y` drawn from the model at :math:`\theta`, with
    covariates and ``pm.Data`` containers held fixed (the conditional information).

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
        By default the model on PyMC's context stack.
    space : {"constrained", "unconstrained"}
        Coordinates of :math:`\theta`.
    method : {"auto", "exact", "monte_carlo"}
        ``"exact"``: :math:`I(\theta) = \sum_i J_i^\top F(\eta_i) J_i`, with
        :math:`F` the closed-form information of observation :math:`i`'s distribution in its
        own parameters :math:`\eta_i` and :math:`J_i = \partial\eta_i/\partial\theta` by
        autodiff (Normal, StudentT, Bernoulli, Binomial, Poisson, NegativeBinomial,
        Exponential, Gamma, Beta, LogNormal; conditionally independent observations).
        ``"quadrature"``: for conditionally independent univariate observations of any
        distribution (zero-inflated, hurdle, truncated, custom), each observation's
        :math:`E[s_i s_i^\top]` by a sum over its support (discrete, truncated where less than
        1e-14 of the mass is left) or Gauss–Hermite on the probit scale through its quantile
        function (continuous); deterministic, no Monte Carlo noise
        (:mod:`pmfisher.information.quadrature_fisher`).
        ``"monte_carlo"``: simulate ``replicates`` data sets from the model's forward graph and
        average :math:`s_r s_r^\top` and :math:`-\nabla^2\ell_r`, vectorized over replicates.
        ``"auto"``: exact where available, else Monte Carlo.
    replicates : int
        Simulated data sets for ``"monte_carlo"``; the MCSE shrinks like
        :math:`1/\sqrt{\text{replicates}}`.
    random_seed : int, optional
        The same seed gives the same numbers.
    structure : {"auto", "dense", "sparse"}
        How the exact matrix is formed. ``"sparse"`` reads the sparsity pattern of the
        Jacobians :math:`J_i` from the model's graph, computes them compressed, one
        forward-mode product per column colour (a few for a hierarchical model, whatever its
        number of groups), and forms :math:`\sum_i J_i^\top F(\eta_i) J_i` in sparse
        arithmetic (:mod:`pmfisher.information.sparse_fisher`); ``"dense"`` differentiates
        in all ``d`` directions at once and raises ``InsufficientMemoryError`` if that would
        not fit in memory; ``"auto"`` takes the sparse route by the rule of
        :func:`observed_information` (the pattern makes it cheaper, or the dense one would
        not fit). ``"monte_carlo"`` is dense: with ``"sparse"`` it raises.
    progressbar : bool
        Show the progress of ``"monte_carlo"`` over the simulated data sets (and of slow
        compiles), as PyMC does, when stderr is a terminal or a notebook.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.

    Returns
    -------
    FisherInformation
        Its matrices' ``attrs`` record ``space``, ``method`` and ``structure`` (the route
        taken); they are dense unless sparse ones were asked for or a dense one would not
        fit (class docstring). For ``method="exact"``, ``score_covariance`` and
        ``negative_hessian`` are the same exact matrix and ``mcse`` holds zeros.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import fisher_information
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3, 1])
    >>> info = fisher_information({"lam": 2.0}, model=model)
    >>> info.method, float(info.matrix.sel(param_i="lam", param_j="lam"))  # n / λ
    ('exact', 2.0)
    """
    refuse_latent(latent, "fisher_information", NO_MARGINAL_FISHER)
    check_option("space", space, Space)
    check_option("method", method, Method)
    check_option("structure", structure, Structure)
    model = resolve_model(model)
    if method == "monte_carlo":
        require_forward_samplers(model)
    graph = model_graph(model, space=space, terms="likelihood")
    x = point_on(graph, point)
    if method == "auto":
        method = "exact" if unsupported_reason(graph) is None else "monte_carlo"
    if method == "exact":
        return _exact(graph, x, structure)
    if method == "quadrature":
        if structure == "sparse":
            raise ArgumentError(
                "structure='sparse' is not available for method='quadrature', which forms "
                "the dense matrix; method='exact' has a sparse route."
            )
        matrix, statement = quadrature_fisher_matrix(graph, x)
        require_finite(matrix, graph.labels, "the quadrature Fisher information")
        zeros = np.zeros_like(matrix)
        return _result(
            graph, matrix, matrix, zeros, zeros, "quadrature", estimator="quadrature", **statement
        )
    if structure == "sparse":
        reason = unsupported_reason(graph)
        raise ArgumentError(
            "structure='sparse' is not available for fisher_information(method='monte_carlo'), "
            "which averages dense per-data-set Hessians; "
            + (
                "method='exact' has a sparse route."
                if reason is None
                else f"method='exact' has a sparse route, but not for this model: {reason}."
            )
        )
    return _monte_carlo(graph, x, int(replicates), random_seed, progressbar)


def _exact(graph, x: np.ndarray, structure: Structure) -> FisherInformation:
    route = fisher_structure(graph, structure)
    if route == "dense":
        matrix = exact_fisher_matrix(graph, x)
        require_finite(matrix, graph.labels, "the exact Fisher information")
        zeros = np.zeros_like(matrix)
        return _result(graph, matrix, matrix, zeros, zeros, "exact", estimator="exact")
    matrix = graph.companion(SparseFisher)(x)
    require_finite(matrix, graph.labels, "the exact Fisher information")
    attrs = {"space": graph.space, "method": "exact", "structure": "sparse"}

    def square(values, name, **extra):
        return labelled.sparse_square(
            values, graph.labels, name=name, requested=structure, **attrs, **extra
        )

    zeros = sparse.csc_array(matrix.shape)
    return FisherInformation(
        matrix=square(matrix, "fisher_information", estimator="exact"),
        score_covariance=square(matrix, "score_covariance"),
        negative_hessian=square(matrix, "negative_hessian"),
        mcse=xr.Dataset(
            {
                "score_covariance": square(zeros, "score_covariance"),
                "negative_hessian": square(zeros, "negative_hessian"),
                "matrix": square(zeros, "fisher_information", estimator="exact"),
            },
            attrs=attrs,
        ),
        method="exact",
    )


def _monte_carlo(
    graph, x: np.ndarray, replicates: int, random_seed, progressbar
) -> FisherInformation:
    if replicates < 2:
        raise ArgumentError(
            f"replicates={replicates}: Monte Carlo needs at least 2 simulated data sets."
        )
    sim = simulator(graph.model)
    like = data_likelihood(graph.model, space=graph.space)
    x_constrained = sim.graph.flatten(graph.constrained_point(x))
    # Simulate in chunks (each with its own child seed) so that replicates × data never has to
    # be held at once; the chunking depends only on the model and ``replicates``.
    chunk = memory.chunk_length(
        -(-replicates // PROGRESS_STEPS),
        like.n_elements,
        "one simulated data set",
        instead="use fewer observations, or a machine with more memory.",
    )
    seeds = child_seeds(random_seed, -(-replicates // chunk))
    outer, negative_hessians = [], []
    description = f"Fisher information from {replicates} simulated data sets"
    with progress_bar(description, total=replicates, progressbar=progressbar) as bar:
        for index, seed in enumerate(seeds):
            size = min(chunk, replicates - index * chunk)
            data = sim.draw(np.broadcast_to(x_constrained, (size, x_constrained.size)), seed)
            _, grad, hessian = like.logp_grad_hessian(np.broadcast_to(x, (size, x.size)), data)
            require_finite(grad, graph.labels, "the score of a simulated data set")
            require_finite(hessian, graph.labels, "the Hessian of a simulated data set")
            outer.append(grad[:, :, None] * grad[:, None, :])
            negative_hessians.append(-hessian)
            bar.advance(size)
    outer, negative_hessians = np.concatenate(outer), np.concatenate(negative_hessians)
    score_covariance, negative_hessian = outer.mean(axis=0), negative_hessians.mean(axis=0)
    se_outer = outer.std(axis=0, ddof=1) / np.sqrt(replicates)
    se_hessian = negative_hessians.std(axis=0, ddof=1) / np.sqrt(replicates)
    # The two estimators share their data sets: compare them through the paired difference.
    difference = outer - negative_hessians
    se_difference = difference.std(axis=0, ddof=1) / np.sqrt(replicates)
    mean_difference = np.abs(difference.mean(axis=0))
    # Where sᵢsᵢᵀ = −∇²ℓᵢ holds per data set (Bernoulli in p), the paired difference is pure
    # rounding error, and its tiny standard error must not turn rounding into "disagreement".
    scale = np.maximum(np.abs(score_covariance), np.abs(negative_hessian)).max()
    roundoff = 1e3 * np.finfo(float).eps * max(scale, np.finfo(float).tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        standardized = np.where(
            mean_difference <= roundoff,
            0.0,
            mean_difference / np.where(se_difference > 0, se_difference, 0),
        )
    max_difference = float(np.max(standardized))
    if max_difference > AGREEMENT_LIMIT:
        # The information equality fails beyond Monte Carlo error: the likelihood is not
        # twice differentiable in the usual sense (a Laplace), or replicates is too small. The
        # score covariance needs first derivatives only.
        warn(
            f"the two Monte Carlo estimators of the Fisher information disagree by up to "
            f"{max_difference:.1f} standard errors; reporting the score covariance as the "
            "matrix. The log-likelihood may not be twice differentiable, or replicates is too "
            "small.",
        )
        use_outer = True
    else:
        use_outer = np.sum(se_outer**2) < np.sum(se_hessian**2)
    return _result(
        graph,
        score_covariance,
        negative_hessian,
        se_outer,
        se_hessian,
        "monte_carlo",
        estimator="score_covariance" if use_outer else "negative_hessian",
        max_standardized_difference=max_difference,
        replicates=replicates,
    )


def _result(
    graph,
    score_covariance,
    negative_hessian,
    se_outer,
    se_hessian,
    method,
    *,
    estimator,
    max_standardized_difference=None,
    replicates=None,
    **statement,
) -> FisherInformation:
    labels = graph.labels
    attrs = {"space": graph.space, "method": method, "structure": "dense", **statement}
    chosen = score_covariance if estimator == "score_covariance" else negative_hessian
    chosen_se = se_outer if estimator == "score_covariance" else se_hessian

    def square(matrix, name, **extra):
        return labelled.square(matrix, labels, name=name, **attrs, **extra)

    return FisherInformation(
        matrix=square(chosen, "fisher_information", estimator=estimator),
        score_covariance=square(score_covariance, "score_covariance"),
        negative_hessian=square(negative_hessian, "negative_hessian"),
        mcse=xr.Dataset(
            {
                "score_covariance": square(se_outer, "score_covariance"),
                "negative_hessian": square(se_hessian, "negative_hessian"),
                "matrix": square(chosen_se, "fisher_information", estimator=estimator),
            },
            attrs=attrs,
        ),
        method=method,
        max_standardized_difference=max_standardized_difference,
        replicates=replicates,
    )
