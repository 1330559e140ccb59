"""Comparing an approximate posterior with a reference posterior, margin by margin and jointly."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import linalg

from pmfisher._core.model.labelled import element_labels
from pmfisher.errors import ArgumentError, NotFiniteError

__all__ = ["compare"]

# Central probabilities at which the reference's coverage of the approximation is reported.
INTERVAL_PROBS = (0.5, 0.9, 0.95)
DEFAULT_SAMPLE_DIMS = ("chain", "draw")
# A correlation matrix with an eigenvalue below this is singular up to rounding.
SINGULAR_TOLERANCE = 1e-10


def compare(approx: xr.DataTree, reference: xr.DataTree, *, var_names=None) -> xr.Dataset:
    r"""Compare an approximate posterior with a reference posterior.

    Both arguments are DataTrees with a ``posterior`` group (a Laplace approximation and a
    NUTS run, two NUTS runs, ...). Every variable is flattened into scalar parameters labelled
    like pmfisher's (``"beta[x3]"``), and draws are pooled over the sample dimensions.

    Per parameter, with means :math:`m`, standard deviations :math:`s` and draws pooled over
    chains,

    .. math::

        \text{z\_gap} = \frac{m_\text{approx} - m_\text{ref}}{s_\text{ref}}, \qquad
        \text{sd\_ratio} = \frac{s_\text{approx}}{s_\text{ref}}, \qquad
        W_1 = \int \lvert F_\text{approx}(x) - F_\text{ref}(x)\rvert\,dx ,

    and ``coverage`` is the fraction of reference draws inside the approximation's central
    interval of probability ``interval_prob`` (equal to ``interval_prob`` when the two agree).

    Jointly, over the parameters of the free variables (those a ``fit`` group names when either
    tree has one, as a Laplace approximation does, else every compared parameter), with the
    Gaussians :math:`N(m_a, S_a)` and :math:`N(m_r, S_r)` matched to the draws:

    .. math::

        \text{mahalanobis} = \sqrt{(m_a - m_r)^\top S_r^{-1} (m_a - m_r)}, \qquad
        \text{gaussian\_kl} = \tfrac12\Big[\operatorname{tr}(S_r^{-1} S_a)
            + \text{mahalanobis}^2 - d + \log\frac{\det S_r}{\det S_a}\Big],

    and ``joint_coverage`` is the fraction of reference draws inside the approximation's
    central region of probability ``interval_prob``, the region being
    :math:`\{x : (x - m_a)^\top S_a^{-1} (x - m_a) \le q\}` with :math:`q` the
    ``interval_prob`` quantile of that distance over the approximation's own draws.

    Parameters
    ----------
    approx, reference : xarray.DataTree
        Posteriors to compare; each needs a ``posterior`` group with the compared variables,
        of the same shapes and coordinates.
    var_names : str or list of str, optional
        Variables to compare; by default every variable in both posteriors.

    Returns
    -------
    xarray.Dataset
        Over ``param``: ``mean_approx``, ``mean_reference``, ``sd_approx``, ``sd_reference``,
        ``z_gap``, ``sd_ratio``, ``wasserstein``, and ``coverage`` (``param`` ×
        ``interval_prob``); joint: ``mahalanobis``, ``gaussian_kl``, ``joint_coverage``
        (``interval_prob``), whose parameters are listed in the ``joint_params`` attribute;
        ``pareto_k`` when the approximation carries one (``fit/pareto_k``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> def posterior(loc):
    ...     draws = rng.normal(loc, 1.0, size=(1, 20000, 2))
    ...     data = xr.Dataset({"mu": (("chain", "draw", "k"), draws)}, coords={"k": ["a", "b"]})
    ...     return xr.DataTree.from_dict({"posterior": data})
    >>> table = compare(posterior([0.0, 0.5]), posterior([0.0, 0.0]))
    >>> table["param"].values.tolist()
    ['mu[a]', 'mu[b]']
    >>> np.round(table["z_gap"].values, 1).tolist()
    [0.0, 0.5]
    """
    from scipy import stats  # 0.4 s, imported by the functions that use it

    names = _common_variables(approx, reference, var_names)
    approx_draws, labels = _flat_draws(approx, names, "approximation")
    reference_draws, reference_labels = _flat_draws(reference, names, "reference")
    if labels != reference_labels:
        differing = [a for a, r in zip(labels, reference_labels, strict=True) if a != r]
        raise ArgumentError(
            f"the approximation and the reference label their parameters differently "
            f"(first difference at {differing[0]!r}); their coordinates must agree."
        )

    mean_approx, mean_reference = approx_draws.mean(axis=0), reference_draws.mean(axis=0)
    sd_approx = approx_draws.std(axis=0, ddof=1)
    sd_reference = reference_draws.std(axis=0, ddof=1)
    _require_spread(sd_reference, labels, "reference")
    _require_spread(sd_approx, labels, "approximation")
    wasserstein = np.array(
        [
            stats.wasserstein_distance(approx_draws[:, j], reference_draws[:, j])
            for j in range(len(labels))
        ]
    )
    probs = np.asarray(INTERVAL_PROBS)
    lower = np.quantile(approx_draws, (1 - probs) / 2, axis=0)  # prob × param
    upper = np.quantile(approx_draws, (1 + probs) / 2, axis=0)
    inside = (reference_draws[None] >= lower[:, None]) & (reference_draws[None] <= upper[:, None])
    coverage = inside.mean(axis=1).T  # param × prob

    joint_names = _free_variables(approx, reference, names)
    joint = np.array([label.partition("[")[0] in joint_names for label in labels])
    joint_labels = [label for label, keep in zip(labels, joint, strict=True) if keep]
    mahalanobis, kl, joint_coverage = _joint_summaries(
        approx_draws[:, joint], reference_draws[:, joint], probs, joint_labels
    )

    param = {"param": labels}
    table = xr.Dataset(
        {
            "mean_approx": ("param", mean_approx),
            "mean_reference": ("param", mean_reference),
            "sd_approx": ("param", sd_approx),
            "sd_reference": ("param", sd_reference),
            "z_gap": ("param", (mean_approx - mean_reference) / sd_reference),
            "sd_ratio": ("param", sd_approx / sd_reference),
            "wasserstein": ("param", wasserstein),
            "coverage": (("param", "interval_prob"), coverage),
            "mahalanobis": mahalanobis,
            "gaussian_kl": kl,
            "joint_coverage": ("interval_prob", joint_coverage),
        },
        coords={**param, "interval_prob": probs},
        attrs={
            "joint_params": joint_labels,
            "draws_approx": approx_draws.shape[0],
            "draws_reference": reference_draws.shape[0],
        },
    )
    pareto_k = _pareto_k(approx)
    if pareto_k is not None:
        table["pareto_k"] = pareto_k
    return table


def _common_variables(approx, reference, var_names) -> list[str]:
    for tree, role in ((approx, "approximation"), (reference, "reference")):
        if "posterior" not in tree.children:
            raise ArgumentError(f"the {role} has no posterior group to compare.")
    approx_vars = list(approx["posterior"].data_vars)
    reference_vars = set(reference["posterior"].data_vars)
    if var_names is None:
        names = [name for name in approx_vars if name in reference_vars]
        if not names:
            raise ArgumentError("the approximation and the reference share no posterior variable.")
        return names
    names = [var_names] if isinstance(var_names, str) else list(var_names)
    for name in names:
        for present, role in ((approx_vars, "approximation"), (reference_vars, "reference")):
            if name not in present:
                raise ArgumentError(f"the {role}'s posterior has no variable {name!r}.")
    return names


def _sample_dims(posterior) -> tuple[str, ...]:
    dims = posterior.attrs.get("sample_dims", DEFAULT_SAMPLE_DIMS)
    return tuple(dim for dim in dims if dim in posterior.dims)


def _flat_draws(tree, names, role) -> tuple[np.ndarray, list[str]]:
    """Draws pooled over the sample dimensions (draw × parameter) and their labels."""
    posterior = tree["posterior"].to_dataset()
    sample_dims = _sample_dims(posterior)
    columns, labels = [], []
    for name in names:
        variable = posterior[name]
        other_dims = [dim for dim in variable.dims if dim not in sample_dims]
        stacked = variable.transpose(*sample_dims, *other_dims).values
        n_draws = int(np.prod(stacked.shape[: len(sample_dims)]))
        columns.append(stacked.reshape(n_draws, -1).astype("float64"))
        coords = {dim: variable[dim].values for dim in other_dims if dim in variable.coords}
        labels += element_labels(name, stacked.shape[len(sample_dims) :], other_dims, coords)
    draws = np.concatenate(columns, axis=1)
    if not np.all(np.isfinite(draws)):
        bad = [
            label
            for label, column in zip(labels, draws.T, strict=True)
            if not np.all(np.isfinite(column))
        ]
        raise NotFiniteError(f"the {role}'s draws of {', '.join(bad)} are not all finite.")
    if draws.shape[0] < 2:
        raise ArgumentError(f"the {role} has {draws.shape[0]} draw(s); at least 2 are needed.")
    return draws, labels


def _require_spread(sd, labels, role) -> None:
    constant = [label for label, value in zip(labels, sd, strict=True) if not value > 0]
    if constant:
        raise ArgumentError(
            f"the {role}'s draws of {', '.join(constant)} are constant, so they have no spread "
            "to compare; leave those variables out with var_names."
        )


def _free_variables(approx, reference, names) -> set[str]:
    """Names among ``names`` that are free variables, as far as the trees tell.

    A tree with a ``fit`` group (a Laplace approximation) names its parameters there, as
    ``sigma`` or as the value variable ``sigma_<transform>__``; the other posterior variables
    are deterministics, functions of the free ones that would make the joint covariance
    singular. Without a fit, every compared variable counts.
    """
    for tree in (approx, reference):
        if "fit" in tree.children and "mean_vector" in tree["fit"].data_vars:
            mean = tree["fit"]["mean_vector"]
            bases = {str(label).partition("[")[0] for label in mean[mean.dims[0]].values}
            return {
                name
                for name in names
                if any(
                    base == name or (base.startswith(f"{name}_") and base.endswith("__"))
                    for base in bases
                )
            }
    return set(names)


def _joint_summaries(approx_draws, reference_draws, probs, labels):
    dimension = approx_draws.shape[1]
    if dimension == 0:
        raise ArgumentError("no free-variable parameters are compared, so there is no joint view.")
    mean_approx, mean_reference = approx_draws.mean(axis=0), reference_draws.mean(axis=0)
    cov_approx = np.atleast_2d(np.cov(approx_draws, rowvar=False))
    cov_reference = np.atleast_2d(np.cov(reference_draws, rowvar=False))
    chol_approx = _cholesky(cov_approx, labels, "approximation")
    chol_reference = _cholesky(cov_reference, labels, "reference")

    gap = linalg.solve_triangular(chol_reference, mean_approx - mean_reference, lower=True)
    mahalanobis_squared = float(gap @ gap)
    whitened = linalg.solve_triangular(chol_reference, chol_approx, lower=True)
    trace = float(np.sum(whitened**2))
    log_det_ratio = 2 * float(
        np.sum(np.log(np.diag(chol_reference))) - np.sum(np.log(np.diag(chol_approx)))
    )
    kl = 0.5 * (trace + mahalanobis_squared - dimension + log_det_ratio)

    def distance(draws):
        centred = linalg.solve_triangular(chol_approx, (draws - mean_approx).T, lower=True)
        return np.sum(centred**2, axis=0)

    thresholds = np.quantile(distance(approx_draws), probs)
    joint_coverage = (distance(reference_draws)[:, None] <= thresholds[None, :]).mean(axis=0)
    return np.sqrt(mahalanobis_squared), kl, joint_coverage


def _cholesky(covariance, labels, role):
    """Cholesky factor of a covariance, or an error if it is singular to rounding: the
    smallest eigenvalue of the correlation matrix below ``SINGULAR_TOLERANCE``."""
    scale = np.sqrt(np.diag(covariance))
    correlation = covariance / np.outer(scale, scale)
    if np.linalg.eigvalsh(correlation)[0] < SINGULAR_TOLERANCE:
        raise ArgumentError(
            f"the {role}'s draws of {', '.join(labels)} have a singular covariance (too few "
            "draws, or a parameter that is a function of others); choose var_names so that "
            "the compared parameters vary freely."
        )
    return linalg.cholesky(covariance, lower=True)


def _pareto_k(approx):
    if "fit" not in approx.children or "pareto_k" not in approx["fit"].data_vars:
        return None
    return approx["fit"]["pareto_k"].variable.copy()
