r"""The Cramér–Rao bound, and simulation studies of the maximum likelihood estimator.

No unbiased estimator has a smaller covariance than the inverse expected information,

.. math::

    \operatorname{Cov}(\hat\theta) \succeq I_n(\theta)^{-1},

and the maximum likelihood estimator attains it asymptotically:
:math:`\sqrt n(\hat\theta_n - \theta) \to \mathcal N(0, I_1(\theta)^{-1})`.
:func:`cramer_rao_bound` computes the bound; :func:`simulate_estimator` checks it on a model
by simulating data sets at a point and fitting the MLE on each.

Scaling out
-----------
Replicates are fitted in chunks of ``chunk_size``, one task per chunk, through any
:class:`concurrent.futures.Executor`. Replicate ``r`` draws its data from child ``r`` of a
:class:`numpy.random.SeedSequence`, and the chunks do not depend on the executor, so the same
``random_seed`` and ``chunk_size`` give the same numbers, bit for bit, serially, on a thread
or process pool, or on a Dask cluster. The model travels to worker processes by cloudpickle
and is unpickled (and its functions compiled) once per worker. With Dask distributed::

    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=4, threads_per_worker=1) as cluster, Client(cluster) as client:
        study = simulate_estimator(point, model=model, replicates=10_000,
                                   executor=client.get_executor(), random_seed=1)

and ``Client("tcp://scheduler:8786")`` instead of the local cluster runs the same study on
many machines.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass

import cloudpickle
import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.curvature import memory
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.data.seeds import child_seeds
from pmfisher._core.data.simulation import simulate_data
from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.model.target import NO_MARGINAL_FISHER, refuse_latent
from pmfisher._core.options import Method, Space, Structure
from pmfisher._core.progress import progress_bar, progress_switch
from pmfisher.errors import ArgumentError, ConvergenceError, warn
from pmfisher.fitting.batch_fit import fit_batch
from pmfisher.fitting.mode_cache import point_on
from pmfisher.information.fisher import fisher_information

__all__ = ["EstimatorStudy", "cramer_rao_bound", "simulate_estimator"]

WALD_LEVEL = 0.95


@progress_switch
def cramer_rao_bound(
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
) -> xr.DataArray:
    r"""The Cramér–Rao bound :math:`I_n(\theta)^{-1}` at ``point``.

    The inverse of the expected (Fisher) information of the whole data set,
    :func:`pmfisher.fisher_information` with ``method="auto"`` (exact where the model's
    distributions allow, Monte Carlo otherwise; ``attrs["method"]`` says which). The bound
    is dense whatever route the information takes: an ``InsufficientMemoryError`` says so
    when its ``d × d`` arrays would not fit.

    Parameters
    ----------
    point : dict or Mode, optional
        Free-variable name → value in the constrained space. ``None`` (the default) is the
        MLE at the current data (``find_mode(terms="likelihood")``, found once and kept).
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    space : {"constrained", "unconstrained"}
    method : {"auto", "exact", "monte_carlo"}
        How the expected information is computed (:func:`pmfisher.fisher_information`).
    replicates : int
        Simulated data sets, where it is computed by Monte Carlo.
    structure : {"auto", "dense", "sparse"}
        The route of the information (:func:`pmfisher.fisher_information`).
    random_seed : int, numpy.random.SeedSequence, optional
        Seeds the Monte Carlo information (``method="auto"`` falls back to it where no exact
        form exists): the same seed gives the same numbers.
    progressbar : bool
        Show the progress of long work, as PyMC does.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the expected information of the Laplace
        marginal is not available yet.

    Returns
    -------
    xarray.DataArray
        Square, dims ``param_i`` × ``param_j``.

    Raises
    ------
    NotPositiveDefiniteError
        When the information is singular (a parameter the data do not identify), naming
        the parameters along the flat directions.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import cramer_rao_bound
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=[2, 4, 3, 1])
    >>> float(cramer_rao_bound({"lam": 3.0}, model=model).values[0, 0])  # λ / n
    0.75
    """
    refuse_latent(latent, "cramer_rao_bound", NO_MARGINAL_FISHER)
    information = fisher_information(
        point,
        model=model,
        space=space,
        method=method,
        replicates=replicates,
        structure=structure,
        random_seed=random_seed,
        progressbar=progressbar,
    )
    matrix = information.matrix
    labels = list(matrix[labelled.ROW].values)
    values = _densify(matrix) if labelled.is_sparse(matrix) else matrix.values
    checked = positive_definite(values, labels, what="Fisher information")
    return labelled.square(
        _inverse(checked.cholesky),
        labels,
        name="cramer_rao_bound",
        space=space,
        method=information.method,
    )


@dataclass(frozen=True)
class EstimatorStudy:
    r"""A simulation study of the maximum likelihood estimator at a point.

    Summaries are over the replicates whose fit converged (``converged``).

    Attributes
    ----------
    estimates : xarray.DataArray
        MLEs, dims ``replicate`` × ``param`` (constrained space).
    standard_errors : xarray.DataArray
        Per replicate, :math:`\sqrt{\operatorname{diag} J_n(\hat\theta)^{-1}}` from the observed
        information at its own MLE.
    converged : xarray.DataArray
        Per replicate, whether its fit converged with a positive definite information.
    truth : xarray.DataArray
        The point the data were simulated at, dim ``param``.
    bound : xarray.DataArray
        The Cramér–Rao bound :math:`I_n(\theta)^{-1}` at the truth.
    covariance : xarray.DataArray
        The sample covariance of the estimates, beside ``bound``.
    variance_mcse : xarray.DataArray
        Monte Carlo standard error of each diagonal entry of ``covariance``,
        :math:`\sqrt{(m_4 - s^4)/R}` with :math:`m_4` the fourth central moment.
    bias, bias_mcse : xarray.DataArray
        Mean of :math:`\hat\theta - \theta` and its Monte Carlo standard error.
    coverage : xarray.DataArray
        Fraction of replicates whose 95% Wald interval
        :math:`\hat\theta \pm 1.96\,\mathrm{se}` contains the truth; its Monte Carlo
        standard error is :math:`\sqrt{0.95 \cdot 0.05 / R}` when the intervals are exact.
    standardized_errors : xarray.DataArray
        :math:`(\hat\theta - \theta)/\sqrt{\operatorname{diag} I_n^{-1}}`, which is
        :math:`\sqrt n(\hat\theta - \theta)` in units of :math:`\sqrt{\operatorname{diag}
        I_1^{-1}}` for iid data: asymptotically standard normal.
    normality : xarray.Dataset
        Per parameter, for ``standardized_errors``: ``mean``, ``sd``, ``skewness``,
        ``excess_kurtosis``, the Kolmogorov–Smirnov statistic and p-value against
        :math:`\mathcal N(0, 1)` (``ks_statistic``, ``ks_pvalue``) and the Shapiro–Wilk
        p-value of the shape alone (``shapiro_pvalue``).
    """

    estimates: xr.DataArray
    standard_errors: xr.DataArray
    converged: xr.DataArray
    truth: xr.DataArray
    bound: xr.DataArray
    covariance: xr.DataArray
    variance_mcse: xr.DataArray
    bias: xr.DataArray
    bias_mcse: xr.DataArray
    coverage: xr.DataArray
    standardized_errors: xr.DataArray
    normality: xr.Dataset

    @property
    def replicates(self) -> int:
        """Number of converged replicates the summaries are over."""
        return int(self.converged.sum())


@progress_switch
def simulate_estimator(
    point=None,
    *,
    model: pm.Model | None = None,
    replicates: int = 500,
    executor: Executor | None = None,
    random_seed=None,
    chunk_size: int = 50,
    progressbar: bool = True,
) -> EstimatorStudy:
    r"""Simulate data sets at ``point``, fit the MLE on each, and compare with Cramér–Rao.

    Each replicate draws a data set from the model's forward graph at ``point`` (covariates
    and data containers held fixed) and maximizes its likelihood by damped Newton steps
    started at ``point``, vectorized over the replicates of a chunk. Its 95% Wald interval
    uses the observed information at its own MLE.

    Parameters
    ----------
    point : dict or Mode, optional
        The true parameters, free-variable name → value in the constrained space. ``None``
        is the MLE at the current data: a parametric bootstrap.
    model : pm.Model, optional
        The model; by default the one on PyMC's context stack.
    replicates : int
        Number of simulated data sets.
    executor : concurrent.futures.Executor, optional
        Runs one task per chunk (``executor.submit``); ``None`` runs the chunks in this
        process. Dask distributed's ``client.get_executor()`` works (module docstring).
    random_seed : int, numpy.random.SeedSequence, optional
        Replicate ``r`` uses child ``r`` of ``SeedSequence(random_seed)``; child ``replicates``
        seeds the bound's Monte Carlo information where the model has no exact form.
    chunk_size : int
        Replicates per task. Data sets do not depend on it; fits agree across chunk sizes to
        rounding only, so keep it fixed when comparing executors.
    progressbar : bool
        Show the progress over the replicates (and of slow compiles), as PyMC does, when
        stderr is a terminal or a notebook.

    Returns
    -------
    EstimatorStudy

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import simulate_estimator
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     y = pm.Poisson("y", lam, observed=np.zeros(40, dtype=int))
    >>> study = simulate_estimator({"lam": 3.0}, model=model, replicates=200, random_seed=1)
    >>> float(study.bound.values[0, 0])  # λ / n
    0.075
    >>> bool(abs(study.covariance.values[0, 0] - 0.075) < 4 * study.variance_mcse.values[0])
    True
    """
    if int(replicates) < 2 or int(chunk_size) < 1:
        raise ArgumentError(
            f"replicates={replicates} and chunk_size={chunk_size}: a study needs at least 2 "
            "replicates and chunks of at least 1."
        )
    model = resolve_model(model)
    graph = model_graph(model, space="constrained", terms="likelihood")
    truth = point_on(graph, point)
    truth_point = graph.constrained_point(truth)
    # One more child of the seed than replicates: the last seeds the bound's Monte Carlo
    # information where the model has no exact form.
    *seeds, bound_seed = child_seeds(random_seed, int(replicates) + 1)
    bound = cramer_rao_bound(truth_point, model=model, random_seed=bound_seed)

    chunks = [seeds[start : start + chunk_size] for start in range(0, len(seeds), chunk_size)]
    shipped = _ShippedModel(model)
    description = f"fitting {len(seeds)} simulated data sets"
    with progress_bar(description, total=len(seeds), progressbar=progressbar) as bar:
        if executor is None:
            results = []
            for chunk in chunks:
                results.append(_fit_chunk(shipped, truth_point, chunk))
                bar.advance(len(chunk))
        else:
            futures = {
                executor.submit(_fit_chunk, shipped, truth_point, chunk): len(chunk)
                for chunk in chunks
            }
            for future in as_completed(futures):
                bar.advance(futures[future])
            results = [future.result() for future in futures]
    estimates, errors, converged = (np.concatenate(parts) for parts in zip(*results, strict=True))
    return _summarize(graph.labels, truth, bound, estimates, errors, converged)


# -- one task: a chunk of replicates ------------------------------------------------------------


def _fit_chunk(shipped: _ShippedModel, point: dict, seeds) -> tuple[np.ndarray, ...]:
    """MLEs, Wald standard errors and convergence flags for one chunk of replicates."""
    model = shipped.model
    # One data set per seed: per-replicate generators keep every data set independent of how
    # the replicates are chunked, at the price of one (cheap) simulator call per replicate.
    draws = [simulate_data(model, point, 1, random_seed=seed) for seed in seeds]
    data = {name: np.concatenate([draw[name] for draw in draws]) for name in draws[0]}
    fit = fit_batch(model, data, start=point)
    _, _, hessian = data_likelihood(model, space="constrained").logp_grad_hessian(
        fit.constrained, data
    )
    errors = np.full_like(fit.constrained, np.nan)
    converged = fit.converged.copy()
    for r in np.flatnonzero(converged):
        try:
            errors[r] = np.sqrt(np.diag(_inverse(np.linalg.cholesky(-hessian[r]))))
        except np.linalg.LinAlgError:
            converged[r] = False  # a saddle or flat direction: no Wald interval
    return fit.constrained, errors, converged


class _ShippedModel:
    """A model that travels to worker processes by cloudpickle (PyMC models do not pickle
    with the standard library) and is unpickled once per process and token, so that its
    compiled functions are reused by every chunk a worker runs."""

    def __init__(self, model: pm.Model, token: str | None = None):
        self.model = model
        self.token = token or uuid.uuid4().hex

    def __reduce__(self):
        return _receive_model, (self.token, cloudpickle.dumps(self.model))


def _receive_model(token: str, payload: bytes) -> _ShippedModel:
    return _ShippedModel(_unpickled_model(token, payload), token)


@functools.lru_cache(maxsize=8)
def _unpickled_model(token: str, payload: bytes) -> pm.Model:
    return cloudpickle.loads(payload)


# -- summaries ----------------------------------------------------------------------------------


def _summarize(labels, truth, bound, estimates, errors, converged) -> EstimatorStudy:
    from scipy import stats  # 0.4 s, imported by the functions that use it

    failed = int((~converged).sum())
    if converged.sum() < 2:
        raise ConvergenceError(
            f"only {int(converged.sum())} of {converged.size} replicate fits converged with a "
            "positive definite information; the MLE may be on the boundary of the support for "
            "most simulated data sets (too little data at this point)."
        )
    if failed:
        warn(
            f"{failed} of {converged.size} replicate fits did not converge (or had a singular "
            "information at their MLE) and are left out of the summaries.",
        )
    kept = estimates[converged]
    count = kept.shape[0]
    error = kept - truth
    centred = kept - kept.mean(axis=0)
    covariance = np.atleast_2d(np.cov(kept, rowvar=False, ddof=1))
    variance = np.diag(covariance)
    fourth_moment = (centred**4).mean(axis=0)
    variance_mcse = np.sqrt(np.maximum(fourth_moment - variance**2, 0.0) / count)
    critical = stats.norm.ppf(0.5 + WALD_LEVEL / 2)
    coverage = (np.abs(error) <= critical * errors[converged]).mean(axis=0)
    standardized = (estimates - truth) / np.sqrt(np.diag(bound.values))

    replicate = np.arange(estimates.shape[0])
    per_replicate = {
        "dims": ("replicate", "param"),
        "coords": {"replicate": replicate, "param": list(labels)},
    }
    z = standardized[converged]
    ks = [stats.kstest(column, "norm") for column in z.T]
    normality = xr.Dataset(
        {
            "mean": ("param", z.mean(axis=0)),
            "sd": ("param", z.std(axis=0, ddof=1)),
            "skewness": ("param", stats.skew(z, axis=0)),
            "excess_kurtosis": ("param", stats.kurtosis(z, axis=0)),
            "ks_statistic": ("param", np.array([test.statistic for test in ks])),
            "ks_pvalue": ("param", np.array([test.pvalue for test in ks])),
            "shapiro_pvalue": (
                "param",
                np.array([stats.shapiro(column).pvalue for column in z.T]),
            ),
        },
        coords={"param": list(labels)},
    )
    return EstimatorStudy(
        estimates=xr.DataArray(estimates, name="estimates", **per_replicate),
        standard_errors=xr.DataArray(errors, name="standard_errors", **per_replicate),
        converged=xr.DataArray(
            converged, dims=("replicate",), coords={"replicate": replicate}, name="converged"
        ),
        truth=labelled.vector(truth, labels, name="truth"),
        bound=bound,
        covariance=labelled.square(covariance, labels, name="covariance"),
        variance_mcse=labelled.vector(variance_mcse, labels, name="variance_mcse"),
        bias=labelled.vector(error.mean(axis=0), labels, name="bias"),
        bias_mcse=labelled.vector(
            error.std(axis=0, ddof=1) / np.sqrt(count), labels, name="bias_mcse"
        ),
        coverage=labelled.vector(coverage, labels, name="coverage", level=WALD_LEVEL),
        standardized_errors=xr.DataArray(standardized, name="standardized_errors", **per_replicate),
        normality=normality,
    )


def _densify(matrix: xr.DataArray) -> np.ndarray:
    """The sparse information as a NumPy array, when the dense inverse it leads to fits
    (a few d × d arrays are alive at once while inverting)."""
    d = matrix.shape[0]
    memory.require_fits(
        4 * 8 * d * d,
        f"the Cramér–Rao bound of {d} parameters (dense {d} × {d} arrays)",
        instead="factorize the sparse fisher_information(...).matrix.data.tocsc() (for "
        "instance with scikit-sparse's CHOLMOD) for the variances you need.",
    )
    return matrix.data.todense()


def _inverse(cholesky: np.ndarray) -> np.ndarray:
    """The inverse of ``L Lᵀ`` from its Cholesky factor, symmetrized."""
    identity = np.eye(cholesky.shape[0])
    inverse_factor = np.linalg.solve(cholesky, identity)
    inverse = inverse_factor.T @ inverse_factor
    return 0.5 * (inverse + inverse.T)
