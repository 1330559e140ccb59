r"""White's information-matrix test of model specification, in its OPG form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.data.data_likelihood import DataLikelihood, data_likelihood
from pmfisher._core.model import labelled
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import NO_MARGINAL_SCORES, refuse_latent, refuse_sparse
from pmfisher._core.options import Structure
from pmfisher._core.progress import progress_bar, progress_switch
from pmfisher.errors import NotFiniteError, UnsupportedModelError
from pmfisher.fitting.mode import require_converged
from pmfisher.fitting.mode_cache import current_mode

__all__ = ["InformationMatrixTest", "information_matrix_test"]

# Relative accuracy assumed of the computed per-observation derivatives: half of double
# precision. Graphs of elementary operations do far better, but likelihoods evaluate special
# functions (log-CDFs, incomplete gamma and beta functions) by series and continued
# fractions: PyTensor's normal log-CDF gives scores accurate to 2e-8 relative, not to 1e-16.
DERIVATIVE_ACCURACY = np.sqrt(np.finfo(float).eps)


@dataclass(frozen=True)
class InformationMatrixTest:
    """Result of :func:`information_matrix_test`.

    Attributes
    ----------
    statistic : float
        :math:`n R^2` of the artificial regression, asymptotically
        :math:`\\chi^2_{\\text{df}}` under correct specification.
    degrees_of_freedom : int
        Number of linearly independent indicators (at most :math:`d(d+1)/2`).
    p_value : float
        :math:`P(\\chi^2_{\\text{df}} > \\text{statistic})`.
    n_observations : int
    discrepancy : xarray.DataArray
        :math:`\\frac1n \\sum_i (s_i s_i^\\top + \\nabla^2 \\ell_i)` at the MLE, the average
        indicator — which entries of the information equality fail, and in which direction
        (positive: more score variance than curvature, as under overdispersion).
    """

    statistic: float
    degrees_of_freedom: int
    p_value: float
    n_observations: int
    discrepancy: xr.DataArray


@progress_switch
def information_matrix_test(
    point=None,
    *,
    model: pm.Model | None = None,
    latent: Sequence[str] | str | None = None,
    structure: Structure = "auto",
    progressbar: bool = True,
) -> InformationMatrixTest:
    r"""White's (1982) information-matrix test, Chesher–Lancaster OPG variant.

    Under correct specification the information equality holds per observation,
    :math:`E[s_i s_i^\top + \nabla^2\ell_i] = 0`. With the indicators
    :math:`d_i = \operatorname{vech}(s_i s_i^\top + \nabla^2 \ell_i)` evaluated at the MLE
    :math:`\hat\theta`, the statistic is :math:`n` times the uncentred :math:`R^2` of the
    artificial regression of a column of ones on :math:`[\,s_i^\top,\ d_i^\top\,]`:

    .. math::

        \mathrm{IM} = \mathbf 1^\top Z (Z^\top Z)^{+} Z^\top \mathbf 1
        \;\xrightarrow{d}\; \chi^2_q, \qquad Z = [\,S,\ D\,],

    with :math:`q` the number of linearly independent indicators (indicators collinear
    with others or with the scores are dropped). Including the scores accounts for
    :math:`\hat\theta` being estimated (Chesher 1983; Lancaster 1984), so no third
    derivatives are needed; the statistic is invariant to reparameterization, since a change
    of coordinates maps the columns of :math:`Z` to an invertible linear combination of them.

    Parameters
    ----------
    point : dict or Mode, optional
        The MLE; ``None`` finds it (``find_mode(terms="likelihood")``).
    model : pm.Model, optional
    progressbar : bool
        Show the progress of its two stages (the MLE, then the per-observation scores and
        Hessians, whose compile is the long part), as PyMC does, when stderr is a terminal
        or a notebook.
    latent : None
        For one vocabulary across functions; naming latent variables raises an
        :class:`~pmfisher.errors.ArgumentError`: the Laplace marginal does not split into
        per-observation terms, so it has no per-observation scores.
    structure : {"auto", "dense"}
        The result is dense: the test regresses on dense per-observation scores and
        Hessians. ``"sparse"`` raises an
        :class:`~pmfisher.errors.ArgumentError`.

    Returns
    -------
    InformationMatrixTest

    Notes
    -----
    The OPG form is known to over-reject in small samples, more so with many indicators
    (Taylor 1987; Orme 1990): its nominal size is reached slowly as :math:`n` grows, and a
    parametric bootstrap of the statistic is the remedy when :math:`n` is small.

    References
    ----------
    H. White (1982), "Maximum likelihood estimation of misspecified models",
    *Econometrica* 50(1), 1–25.
    A. Chesher (1983), "The information matrix test: simplified calculation via a score test
    interpretation", *Economics Letters* 13, 45–48.
    T. Lancaster (1984), "The covariance matrix of the information matrix test",
    *Econometrica* 52(4), 1051–1053.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import information_matrix_test
    >>> y = np.random.default_rng(0).negative_binomial(2, 0.4, size=300)  # overdispersed
    >>> with pm.Model() as model:
    ...     lam = pm.Exponential("lam", 1.0)
    ...     obs = pm.Poisson("y", lam, observed=y)
    >>> result = information_matrix_test(model=model)
    >>> result.degrees_of_freedom, bool(result.p_value < 1e-6)
    (1, True)
    """
    refuse_latent(latent, "information_matrix_test", NO_MARGINAL_SCORES)
    refuse_sparse(
        structure,
        "information_matrix_test",
        "its indicators are dense per-observation scores and Hessians.",
    )
    graph = model_graph(model, space="constrained", terms="likelihood")
    with progress_bar("information-matrix test", total=2, progressbar=progressbar) as bar:
        if point is None:
            point = require_converged(
                current_mode(graph.model, terms="likelihood", space="constrained")
            )
        bar.advance()
        x = graph.flatten(point)
        graph.check_in_support(x)
        like = data_likelihood(graph.model, space="constrained")
        statistic, df, discrepancy = im_statistics(like, x[None, :], like.observed_batch())
        bar.advance()
    n = len(graph.observation_labels)
    if df[0] < 1:
        # The indicators add no direction to the scores' span (one observation, say): the
        # statistic has no χ² reference, and chi2.sf(·, 0) is NaN.
        raise UnsupportedModelError(
            f"the information-matrix test of {', '.join(like.names)} has no degrees of "
            f"freedom: with {n} observation(s) and {graph.size} parameter(s), no indicator "
            "is linearly independent of the scores. It needs more observations."
        )
    from scipy import stats  # 0.4 s, imported by the functions that use it

    return InformationMatrixTest(
        statistic=float(statistic[0]),
        degrees_of_freedom=int(df[0]),
        p_value=float(stats.chi2.sf(statistic[0], df[0])),
        n_observations=n,
        discrepancy=labelled.square(discrepancy[0], graph.labels, name="discrepancy"),
    )


def im_statistics(like: DataLikelihood, theta_batch, data):
    """The OPG information-matrix statistic for each replicate, vectorized.

    ``theta_batch`` ``(R, d)`` (each replicate's MLE, flat in ``like.graph.space``) and
    ``data`` (observed name → ``(R, ...)``). Returns the statistics ``(R,)``, their degrees
    of freedom ``(R,)`` and the mean indicators ``(R, d, d)``.
    """
    scores = like.observation_scores(theta_batch, data)  # (R, n, d)
    hessians = like.observation_hessians(theta_batch, data)  # (R, n, d, d)
    d = scores.shape[-1]
    indicators = hessians + scores[..., :, None] * scores[..., None, :]
    upper = np.triu_indices(d)
    design = np.concatenate([scores, indicators[..., upper[0], upper[1]]], axis=-1)
    if not np.all(np.isfinite(design)):
        raise NotFiniteError(
            "the per-observation scores or Hessians are not finite at the MLE; the "
            "information-matrix test needs a twice-differentiable likelihood there."
        )
    # Each indicator sums sᵢsⱼ and ∇²ℓᵢⱼ: its rounding error scales with the sizes of the
    # two terms, not with their (possibly much smaller) sum.
    sizes = np.abs(hessians) + np.abs(scores[..., :, None] * scores[..., None, :])
    magnitude = np.concatenate([np.abs(scores), sizes[..., upper[0], upper[1]]], axis=-1)
    statistic, rank_design = _explained_sum_of_ones(design, magnitude)
    _, rank_scores = _explained_sum_of_ones(scores, np.abs(scores))
    return statistic, rank_design - rank_scores, indicators.mean(axis=1)


def _explained_sum_of_ones(design: np.ndarray, magnitude: np.ndarray):
    r"""Per replicate, :math:`1^\top Z (Z^\top Z)^+ Z^\top 1` and the numerical rank of ``Z``.

    From an SVD of the column-normalized design :math:`\tilde Z`. The computed design is
    :math:`\tilde Z + E` with :math:`|E_{ik}| \le \delta M_{ik}`, where :math:`M` holds the
    sizes of the terms each entry sums (``magnitude``, normalized like the design) and
    :math:`\delta` is ``DERIVATIVE_ACCURACY``; by Weyl's inequality rounding moves every
    singular value by at most :math:`\|E\|_2 \le \delta \|M\|_F`. Singular values below that
    bound (or below the SVD's own rounding, :math:`\max(n, q)\,\epsilon\,\sigma_{\max}`)
    cannot be told from zero: their directions are collinear indicators — one indicator equal
    to another in exact arithmetic, as for a location–scale likelihood — and keeping them
    would project the ones vector onto rounding noise. A column whose norm is itself below
    its rounding bound :math:`\delta \|M_{:k}\|` is an indicator that vanishes identically
    (for OrderedLogistic, :math:`\partial^2\ell_i/\partial c_1\partial c_2 + s_{i1}s_{i2} = 0`
    for two cutpoints): it is dropped before normalizing, since normalizing rounding noise
    would inflate the bound of every other column with it.
    """
    norms = np.linalg.norm(design, axis=-2, keepdims=True)
    significant = norms > DERIVATIVE_ACCURACY * np.linalg.norm(magnitude, axis=-2, keepdims=True)
    significant &= norms > 0
    normalized = np.divide(design, norms, out=np.zeros_like(design), where=significant)
    scaled = np.divide(magnitude, norms, out=np.zeros_like(magnitude), where=significant)
    left, singular, _ = np.linalg.svd(normalized, full_matrices=False)
    tolerance = np.maximum(
        DERIVATIVE_ACCURACY * np.linalg.norm(scaled, axis=(-2, -1))[..., None],
        max(design.shape[-2:]) * np.finfo(float).eps * singular.max(axis=-1, keepdims=True),
    )
    keep = singular > tolerance
    projection = left.sum(axis=-2)  # Uᵀ1, one entry per singular direction
    return np.sum(np.where(keep, projection**2, 0.0), axis=-1), keep.sum(axis=-1)
