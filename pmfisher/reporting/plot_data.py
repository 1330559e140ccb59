"""The draws a picture shows: variables found in an approximation and a reference, thinned,
labelled per element, and the Gaussian an approximation was fitted as."""

from __future__ import annotations

import numpy as np
import xarray as xr

from pmfisher._core.model.labelled import element_labels, square
from pmfisher.approximation.compare import DEFAULT_SAMPLE_DIMS
from pmfisher.approximation.fit_covariance import fit_covariance
from pmfisher.errors import ArgumentError

# Pair plots scatter at most this many reference draws.
SCATTER_LIMIT = 2000
# Heat maps of a large fit show at most this many elements of each variable, this many in all.
SELECTED_PER_VARIABLE = 4
SELECTED_LIMIT = 24


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
        raise ArgumentError("the approximation and the reference share no posterior variable.")
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
            raise ArgumentError(f"the {role} has no variable {name!r} in its posterior groups.")
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
    if "mean_vector" not in fit or not {"covariance_matrix", "precision_matrix"} & set(fit):
        return None
    mean = fit["mean_vector"]
    positions = {str(label): k for k, label in enumerate(mean[mean.dims[0]].values)}
    if not set(labels) <= set(positions):
        return None
    index = [positions[label] for label in labels]
    # Only the drawn block of the covariance: a sparse fit never forms the whole of it.
    return labels, np.asarray(mean.values)[index], fit_covariance(fit).block(index)


def heat_map_matrices(fit: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """The matrices a fit's two heat maps draw: the precision, and the one whose inverse's
    correlations are shown — the whole precision twice for a dense fit, a selection
    (:func:`selected_precisions`) for a sparse one."""
    if "covariance_matrix" in fit:
        return fit["precision_matrix"], fit["precision_matrix"]
    return selected_precisions(fit)


def selected_precisions(fit: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    r"""For a fit too large to draw whole: the block :math:`H_{SS}` of the precision and the
    precision :math:`(\Sigma_{SS})^{-1}` of the marginal of the selected parameters :math:`S`
    (the first ``SELECTED_PER_VARIABLE`` elements of each variable, at most
    ``SELECTED_LIMIT`` in all), whose inverse's correlations are those of the full
    :math:`\Sigma = H^{-1}` — only :math:`|S|` solves against the sparse factor."""
    labels = [str(label) for label in fit["mean_vector"]["param"].values]
    taken: dict[str, int] = {}
    index = []
    for position, label in enumerate(labels):
        base = label.partition("[")[0]
        if taken.get(base, 0) < SELECTED_PER_VARIABLE and len(index) < SELECTED_LIMIT:
            taken[base] = taken.get(base, 0) + 1
            index.append(position)
    chosen = [labels[position] for position in index]
    stored = fit["precision_matrix"].data
    rows = stored.tocsr()[index] if hasattr(stored, "tocsr") else np.asarray(stored)[index]
    block = rows[:, index]
    block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
    marginal = np.linalg.inv(fit_covariance(fit).block(index))
    return (
        square(block, chosen, name="precision_matrix"),
        square(0.5 * (marginal + marginal.T), chosen, name="marginal_precision"),
    )


def draw_count(tree) -> int:
    posterior = tree["posterior"]
    return int(
        np.prod([posterior.sizes[dim] for dim in DEFAULT_SAMPLE_DIMS if dim in posterior.sizes])
    )
