"""The draws a picture shows: variables found in an approximation and a reference, thinned,
labelled per element, and the Gaussian an approximation was fitted as."""

from __future__ import annotations

import numpy as np
import xarray as xr

from pmfisher._core.labelled import element_labels
from pmfisher.approximation.compare import DEFAULT_SAMPLE_DIMS
from pmfisher.errors import PMFisherError

# Pair plots scatter at most this many reference draws.
SCATTER_LIMIT = 2000


def element_moments(tree, name, role) -> tuple[np.ndarray, np.ndarray]:
    """Per-element mean and sd over the draws of one variable, flattened."""
    draws = draws_dataset(tree, [name], None, role)[name]
    sample_dims = [dim for dim in DEFAULT_SAMPLE_DIMS if dim in draws.dims]
    return (
        np.ravel(draws.mean(sample_dims).values),
        np.ravel(draws.std(sample_dims, ddof=1).values),
    )


def thinned(draws: xr.Dataset) -> xr.Dataset:
    """At most ``SCATTER_LIMIT`` draws, evenly spaced in each chain, so scatters stay legible."""
    total = int(np.prod([draws.sizes[dim] for dim in DEFAULT_SAMPLE_DIMS if dim in draws.sizes]))
    step = -(-total // SCATTER_LIMIT)
    return draws.isel(draw=slice(None, None, step)) if step > 1 else draws


def indexed(tree: xr.DataTree) -> xr.DataTree:
    """The posterior with coordinates on its sample dimensions, which arviz-plots needs to
    line up two trees whose draw counts differ."""
    posterior = tree["posterior"].to_dataset()
    missing = {
        dim: np.arange(posterior.sizes[dim])
        for dim in DEFAULT_SAMPLE_DIMS
        if dim in posterior.dims and dim not in posterior.coords
    }
    return xr.DataTree.from_dict({"posterior": posterior.assign_coords(missing)})


def common_names(approx, reference, var_names):
    if var_names is not None:
        return [var_names] if isinstance(var_names, str) else list(var_names)
    reference_vars = set(reference["posterior"].data_vars)
    names = [name for name in approx["posterior"].data_vars if name in reference_vars]
    if not names:
        raise PMFisherError("the approximation and the reference share no posterior variable.")
    return names


def draws_dataset(tree, var_names, coords, role) -> xr.Dataset:
    """The named variables from ``posterior`` or, failing that, ``unconstrained_posterior``."""
    groups = [
        tree[group].to_dataset()
        for group in ("posterior", "unconstrained_posterior")
        if group in tree.children
    ]
    if var_names is None:
        var_names = list(groups[0].data_vars)
    names = [var_names] if isinstance(var_names, str) else list(var_names)
    variables = {}
    for name in names:
        found = [group[name] for group in groups if name in group.data_vars]
        if not found:
            raise PMFisherError(f"the {role} has no variable {name!r} in its posterior groups.")
        variables[name] = found[0]
    dataset = xr.Dataset(variables)
    if coords:
        dataset = dataset.sel({dim: value for dim, value in coords.items() if dim in dataset.dims})
    return dataset


def labels_of(dataset: xr.Dataset) -> dict[str, xr.DataArray]:
    sample_dims = [dim for dim in DEFAULT_SAMPLE_DIMS if dim in dataset.dims]
    labels = {}
    for name, variable in dataset.data_vars.items():
        dims = [dim for dim in variable.dims if dim not in sample_dims]
        shape = tuple(variable.sizes[dim] for dim in dims)
        coords = {dim: variable[dim].values for dim in dims if dim in variable.coords}
        flat = element_labels(name, shape, dims, coords)
        labels[name] = xr.DataArray(
            np.array(flat, dtype=object).reshape(shape),
            dims=dims,
            coords={dim: variable[dim] for dim in dims if dim in variable.coords},
        )
    return labels


def label_dataset(draws: xr.Dataset) -> xr.Dataset:
    """Each parameter's label in place of its draws, so that a map over pairs knows the labels."""
    return xr.Dataset(labels_of(draws))


def gaussian_fit(tree, draws: xr.Dataset):
    """Labels, mean and covariance of the flat parameters of ``draws``."""
    labels = [str(label) for array in labels_of(draws).values() for label in np.ravel(array)]
    fitted = fit_group_gaussian(tree, labels)
    if fitted is not None:
        return fitted
    sample_dims = [dim for dim in DEFAULT_SAMPLE_DIMS if dim in draws.dims]
    stacked = [
        variable.stack(sample=sample_dims).transpose("sample", ...)
        for variable in draws.data_vars.values()
    ]
    flat = np.concatenate([v.values.reshape(v.sizes["sample"], -1) for v in stacked], axis=1)
    return labels, flat.mean(axis=0), np.atleast_2d(np.cov(flat, rowvar=False))


def fit_group_gaussian(tree, labels):
    if "fit" not in tree.children:
        return None
    fit = tree["fit"].to_dataset()
    if "mean_vector" not in fit or "covariance_matrix" not in fit:
        return None
    mean = fit["mean_vector"]
    fit_labels = [str(label) for label in mean[mean.dims[0]].values]
    if not set(labels) <= set(fit_labels):
        return None
    index = [fit_labels.index(label) for label in labels]
    covariance = np.asarray(fit["covariance_matrix"].values)[np.ix_(index, index)]
    return labels, np.asarray(mean.values)[index], covariance


def draw_count(tree) -> int:
    posterior = tree["posterior"]
    return int(
        np.prod([posterior.sizes[dim] for dim in DEFAULT_SAMPLE_DIMS if dim in posterior.sizes])
    )
