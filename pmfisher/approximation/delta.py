r"""The delta method: first-order mean and sd of deterministics under a Gaussian approximation."""

from __future__ import annotations

import functools

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import sparse

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives, memory
from pmfisher._core.curvature.colouring import column_colouring, recover_jacobian
from pmfisher._core.curvature.sparsity import jacobian_sparsity
from pmfisher._core.model.model_graph import ModelGraph, model_graph, resolve_model
from pmfisher._core.progress import progress_switch
from pmfisher.approximation.fit_covariance import fit_covariance
from pmfisher.errors import ArgumentError

__all__ = ["delta_method"]

_FLOAT = 8


@progress_switch
def delta_method(
    result: xr.DataTree,
    *,
    var_names=None,
    model: pm.Model | None = None,
    progressbar: bool = True,
) -> xr.Dataset:
    r"""First-order (delta-method) mean and sd of the model's deterministics.

    Under the Gaussian approximation :math:`\theta \sim \mathcal N(\hat\theta, \Sigma)` of a
    :func:`~pmfisher.laplace` result, a deterministic :math:`g(\theta)` is approximately

    .. math::

        g(\theta) \approx \mathcal N\big(g(\hat\theta),\;
        \nabla g(\hat\theta)^\top\, \Sigma\, \nabla g(\hat\theta)\big),

    with the gradient of every element of :math:`g` taken by exact autodiff in the result's
    ``space`` (one forward-mode pass batched over the parameters). On a sparse fit (a large
    model: ``fit`` holds the sparse precision :math:`H = \Sigma^{-1}` and no covariance) each
    variance is :math:`\lVert L^{-1} P \nabla g \rVert^2` from the sparse Cholesky factor
    :math:`P H P^\top = L L^\top`, in chunks of outputs, without forming :math:`\Sigma`;
    and the Jacobian is formed sparse, from its pattern read off the graph and one forward
    pass batched over a column colouring of it (a few colours: an element of a group's
    deterministic depends on the shared parameters and its own group's), so that no
    ``elements × d`` array is built.

    Parameters
    ----------
    result : xarray.DataTree
        A :func:`~pmfisher.laplace` result (its ``fit`` group and ``terms``/``space`` attrs).
    var_names : str or list of str, optional
        Deterministics to propagate; by default all of them.
    model : pm.Model, optional
        The model the result was computed from; by default the one on PyMC's context stack.
    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    xarray.Dataset
        One variable per deterministic, dims ``stat`` (``"mean"``, ``"sd"``) × the
        deterministic's dims and coords from the model.

    Examples
    --------
    >>> import pymc as pm
    >>> from pmfisher import delta_method
    >>> from pmfisher import laplace
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     twice = pm.Deterministic("twice", 2 * mu)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.5, 1.5, 1.0])
    >>> approx = laplace(model=model, draws=100, random_seed=1)
    >>> summary = delta_method(approx, model=model)
    >>> summary["twice"].sel(stat="mean").item(), summary["twice"].sel(stat="sd").item()
    (1.5, 1.0)
    """
    model = resolve_model(model)
    try:
        fit, attrs = result["fit"], result.attrs
        terms, space = attrs["terms"], attrs["space"]
    except KeyError:
        raise ArgumentError(
            "delta_method needs a pmfisher.laplace result: a DataTree with a 'fit' group and "
            "'terms' and 'space' attrs."
        ) from None
    graph = model_graph(model, space=space, terms=terms)
    mean_vector = fit["mean_vector"]
    if tuple(str(label) for label in mean_vector["param"].values) != graph.labels:
        raise ArgumentError(
            "the result's parameters "
            f"({', '.join(str(label) for label in mean_vector['param'].values)}) are not this "
            f"model's ({', '.join(graph.labels)}) in the {space} space: pass the model the "
            "result was computed from."
        )
    available = [var.name for var in model.deterministics]
    if var_names is None:
        var_names = available
    elif isinstance(var_names, str):
        var_names = [var_names]
    unknown = [name for name in var_names if name not in available]
    if unknown or not var_names:
        raise ArgumentError(
            f"{', '.join(unknown) or 'no variables'}: delta_method propagates deterministics, "
            f"and the model's are {', '.join(available) or 'none'}."
        )
    x = np.asarray(mean_vector.values, dtype="float64")
    covariance = fit_covariance(fit)
    propagation = graph.companion(_Propagation if covariance.dense is not None else _Compressed)
    values = propagation(x)
    dims = model.named_vars_to_dims
    coords = model.coords
    variables = {}
    for name in var_names:
        value, jacobian = values[name]
        sd = np.sqrt(covariance.quadratic_forms(jacobian))
        stacked = np.stack([value.ravel(), sd]).reshape(2, *value.shape)
        var_dims = list(dims.get(name) or [f"{name}_dim_{axis}" for axis in range(value.ndim)])
        var_coords = {
            dim: list(coords[dim])
            for dim, length in zip(var_dims, value.shape, strict=True)
            if coords.get(dim) is not None and len(coords[dim]) == length
        }
        variables[name] = xr.DataArray(
            stacked,
            dims=["stat", *var_dims],
            coords={"stat": ["mean", "sd"], **var_coords},
        )
    return xr.Dataset(variables, attrs={"method": "delta", "terms": terms, "space": space})


class _Propagation:
    """Every deterministic and its dense Jacobian in the graph's ``theta`` (compiled once)."""

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.names = list(graph.deterministics)
        elements = sum(_flat(value).type.shape[0] or 0 for value in graph.deterministics.values())
        memory.require_fits(
            _FLOAT * elements * graph.size,
            f"the Jacobians of the deterministics ({elements} elements × {graph.size} parameters)",
            instead="pass var_names with fewer deterministics.",
        )

    @functools.cached_property
    def function(self):
        graph = self.graph
        outputs = []
        for deterministic in graph.deterministics.values():
            outputs += [
                deterministic,
                derivatives.jacobian_forward(_flat(deterministic), graph.theta),
            ]
        return compile_function([graph.theta], outputs)

    def __call__(self, x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        outputs = self.function(x)
        return {
            name: (np.asarray(outputs[2 * k], dtype="float64"), np.asarray(outputs[2 * k + 1]))
            for k, name in enumerate(self.names)
        }


class _Compressed:
    """Every deterministic and its sparse Jacobian in the graph's ``theta`` (compiled once).

    Per deterministic, the cheaper of two exact routes: its pattern read off the graph and
    its compression :math:`(JS)^\top` from one forward pass batched over a column colouring
    (``c`` colours: a group's deterministic needs the shared parameters' and one more), or,
    when it has fewer elements than colours (a scalar of all the group effects), one reverse
    pass per element.
    """

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.names = list(graph.deterministics)
        flats = [_flat(value) for value in graph.deterministics.values()]
        sparsity = jacobian_sparsity(graph, flats)
        self.patterns = sparsity.patterns
        self.colours = [column_colouring(pattern) for pattern in self.patterns]
        self.seeds, directions = [], []
        outputs, batch = [], 0
        for deterministic, flat, pattern, colours in zip(
            graph.deterministics.values(), flats, self.patterns, self.colours, strict=True
        ):
            n_colours = int(colours.max(initial=-1)) + 1
            if n_colours <= pattern.shape[0]:
                seed = np.zeros((n_colours, graph.size))
                seed[colours, np.arange(graph.size)] = 1.0
                direction = pt.matrix(f"seed_{len(self.seeds)}", shape=seed.shape)
                self.seeds.append(seed)
                directions.append(direction)
                jacobian = derivatives.jacobian_matrix_product(flat, graph.theta, direction)
                batch = max(batch, n_colours)
            else:
                jacobian = derivatives.jacobian_reverse(flat, graph.theta)
                self.seeds.append(None)
                batch = max(batch, pattern.shape[0])
            outputs += [deterministic, jacobian]
        memory.require_fits(
            _FLOAT * max(batch, 1) * sparsity.intermediate_elements,
            f"the sparse Jacobians of the deterministics ({batch} directions × "
            f"{sparsity.intermediate_elements} elements)",
            instead="pass var_names with fewer deterministics.",
        )
        self.function = compile_function([graph.theta, *directions], outputs)

    def __call__(self, x: np.ndarray) -> dict[str, tuple[np.ndarray, sparse.csr_array]]:
        outputs = self.function(x, *(seed for seed in self.seeds if seed is not None))
        found = {}
        for k, name in enumerate(self.names):
            value, jacobian = np.asarray(outputs[2 * k], "float64"), np.asarray(outputs[2 * k + 1])
            if self.seeds[k] is None:  # reverse mode: the Jacobian itself, on its pattern
                jacobian = sparse.csr_array(jacobian * self.patterns[k].toarray())
            else:
                jacobian = recover_jacobian(jacobian, self.patterns[k], self.colours[k])
            found[name] = (value, jacobian)
        return found


def _flat(deterministic):
    return pt.cast(deterministic, "float64").ravel()
