"""``optimal_design``: approximate designs with their certificate, and exact n-run designs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from pmfisher._core.data.seeds import child_seeds
from pmfisher._core.model.model_graph import model_graph, resolve_model
from pmfisher._core.options import Criterion, check_option
from pmfisher._core.progress import progress_switch
from pmfisher.design.approximate import approximate_design
from pmfisher.design.criterion import DesignCriterion
from pmfisher.design.design_graph import design_graph
from pmfisher.design.evaluation import criterion_spec, parameter_draws
from pmfisher.design.exact import exact_design
from pmfisher.design.population import (
    NO_DESIGN_GRADIENT,
    population_information,
    population_spec,
)
from pmfisher.design.population_design import population_design
from pmfisher.errors import ArgumentError, UnsupportedModelError

__all__ = ["ApproximateDesign", "ExactDesign", "optimal_design"]

# Candidates of a box for an approximate design: about this many grid points in all.
BOX_GRID_POINTS = 2001


@dataclass(frozen=True)
class ApproximateDesign:
    r"""An optimal approximate design and its equivalence-theorem certificate.

    Attributes
    ----------
    support : dict of str to numpy.ndarray
        Container name → the values of the support points.
    weights : numpy.ndarray
        The share of the runs at each support point (sums to 1).
    sensitivity : xarray.DataArray
        :math:`s(x, \xi)` over the candidates (dim ``candidate``, one coordinate per
        container).
    sensitivity_max : float
        Its maximum over the candidates and the support.
    bound : float
        What ``sensitivity_max`` equals at the optimum: ``p`` for D.
    efficiency_bound : float
        :math:`b / \max_x s(x, \xi) \le \text{eff}(\xi)`: 1 certifies the design optimal.
    criterion : float
        The criterion of the design's normalized information :math:`\sum_r w_r I(x_r)`.
    name : str
        Which criterion (``"D"``, ``"A"``, ``"E"``, ``"Ds"``, ``"c"``). For E, ``bound`` is
        :math:`\lambda_{\min}(M(\xi))` and the sensitivity
        :math:`\operatorname{tr}(I(x) E)` with :math:`E` a convex combination of the minimal
        eigenprojections (:mod:`pmfisher.design.e_optimal`).
    """

    support: dict[str, np.ndarray]
    weights: np.ndarray
    sensitivity: xr.DataArray
    sensitivity_max: float
    bound: float
    efficiency_bound: float
    criterion: float
    name: str = "D"

    def efficiency(self, design: DesignCriterion, runs: int) -> float:
        r"""The efficiency of an exact design of ``runs`` runs against this optimum, from its
        :func:`~pmfisher.design_criterion` (same model, point and criterion; every
        observation one of its runs). With :math:`M_n` its information and :math:`M^*` the
        optimum's per run:

        .. math::

            \text{D: } \left(\frac{\det M_n / n^p}{\det M^*}\right)^{1/p}, \quad
            \text{Ds: the same with } s, \quad
            \text{A, c: } \frac{\Psi(M^*)}{n\,\Psi(M_n)}, \quad
            \text{E: } \frac{\lambda_{\min}(M_n)}{n\,\lambda_{\min}(M^*)},

        the fraction of the runs the optimum would need for the same precision.
        """
        if design.criterion != self.name:
            raise ArgumentError(
                f"the design's criterion is {design.criterion!r}, the optimum's {self.name!r}."
            )
        if self.name in {"D", "Ds"}:
            # The bound is p (D) or s (Ds): the exponent's dimension.
            log_ratio = design.value - self.bound * np.log(runs) - self.criterion
            return float(np.exp(log_ratio / self.bound))
        if self.name == "E":
            return float(design.value / (runs * self.criterion))
        return float(self.criterion / (runs * design.value))


@dataclass(frozen=True)
class ExactDesign:
    """An optimized design of ``runs`` runs: ``support`` (container name → the ``runs``
    values, sorted) and ``criterion`` (of the whole data set's information)."""

    support: dict[str, np.ndarray]
    criterion: float


@progress_switch
def optimal_design(
    *,
    model: pm.Model | None = None,
    design: Mapping,
    point,
    criterion: Criterion = "D",
    runs: int | None = None,
    parameters=None,
    random_seed=None,
    latent: Sequence[str] | str | None = None,
    replicates: int = 200,
    progressbar: bool = True,
) -> ApproximateDesign | ExactDesign:
    r"""An optimal experimental design for a PyMC model, with proof or best effort.

    Parameters
    ----------
    model : pm.Model, optional
        By default the model on PyMC's context stack; it is not changed.
    design : dict
        Container name → candidates (1-D arrays of equal length, one candidate run per
        position across containers) or a box ``(low, high)``.
    point : dict, Mode, or draws
        As in :func:`~pmfisher.design_criterion`: the parameters (locally optimal design) or
        draws of them (the criterion averaged).
    criterion : {"D", "A", "E", "Ds", "c"}
        As in :func:`~pmfisher.design_criterion`. An approximate E-optimal design is found by
        linear programming over the candidates (in a box: over its grid, the support is not
        moved off it), with the equivalence theorem's certificate for E
        (:mod:`pmfisher.design.e_optimal`).
    runs : int, optional
        ``None``: an approximate design (support points and weights), over the candidates,
        or in a box (a grid of about 2,000 candidates, the support then moved off the grid by
        the exact gradient). ``n``: an exact design of ``n`` runs in a box.
    parameters : optional
        As in :func:`~pmfisher.design_criterion` (``"Ds"``, ``"c"``).
    random_seed : int, optional
        Seeds the random starts of an exact design; with ``latent``, the simulated data
        sets (the same for every candidate).
    latent : list of str, optional
        Random effects to integrate out: a *population* design over candidate elementary
        designs (:mod:`pmfisher.design.population_design`). Each container's candidates
        are then stacked along the first axis (``{"t": array (C, n)}``: candidate ``c``
        samples a subject at ``t[c]``; a dimension of the model may be given per candidate
        too), the weights are the shares of the subjects, and the certificate is over the
        candidates. Exact designs and boxes need the design gradient, which this route has
        not: they raise ``UnsupportedModelError``.
    replicates : int
        With ``latent``: the simulated data sets per candidate.

    progressbar : bool
        Show the progress of long work (slow compiles included), as PyMC does, when stderr is
        a terminal or a notebook; ``False`` silences all of it.

    Returns
    -------
    ApproximateDesign or ExactDesign
        See :mod:`pmfisher.design.approximate` for the certificate.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import optimal_design
    >>> with pm.Model() as model:
    ...     x = pm.Data("x", np.zeros(3))
    ...     a, b = pm.Normal("a"), pm.Normal("b")
    ...     y = pm.Normal("y", a + b * x, 1.0, observed=np.zeros(3), shape=x.shape)
    >>> best = optimal_design(model=model, design={"x": np.linspace(-1, 1, 21)},
    ...                       point={"a": 0.0, "b": 1.0})
    >>> best.support["x"], best.weights.round(6), round(best.sensitivity_max, 6)
    (array([-1.,  1.]), array([0.5, 0.5]), 2.0)
    """
    check_option("criterion", criterion, Criterion)
    model = resolve_model(model)
    if not isinstance(design, Mapping) or not design:
        raise ArgumentError("design must map pm.Data container names to candidates or boxes.")
    if latent is not None:
        return _population_design(
            model, design, point, criterion, runs, parameters, random_seed, latent, replicates
        )
    graph = model_graph(model, space="constrained", terms="likelihood")
    names = tuple(design)
    boxes = {name: _box(design[name]) for name in names}
    spec = criterion_spec(graph, criterion, parameters)
    thetas, _ = parameter_draws(graph, point)
    graph_of_design = design_graph(graph, names)
    if runs is not None:
        if any(box is None for box in boxes.values()) or int(runs) < 1:
            raise ArgumentError(
                "an exact design (runs=n) is searched in a box: give design={name: (low, high)} "
                "and a positive number of runs."
            )
        solution = exact_design(
            graph_of_design,
            spec,
            thetas,
            [boxes[name] for name in names],
            int(runs),
            np.random.default_rng(random_seed),
        )
        return ExactDesign(dict(zip(names, solution.support, strict=True)), solution.value)
    if all(box is not None for box in boxes.values()):
        per_axis = max(11, round(BOX_GRID_POINTS ** (1 / len(names))))
        axes = [np.linspace(low, high, per_axis) for low, high in boxes.values()]
        candidates = [column.ravel() for column in np.meshgrid(*axes, indexing="ij")]
        box = list(boxes.values())
    elif all(box is None for box in boxes.values()):
        candidates = [np.asarray(design[name], dtype="float64").ravel() for name in names]
        if len({values.size for values in candidates}) > 1:
            raise ArgumentError(
                "the candidates of the containers differ in length; each position is one "
                "candidate run across the containers."
            )
        box = None
    else:
        raise ArgumentError("give every container candidates, or every container a box.")
    certificate = approximate_design(graph_of_design, spec, thetas, candidates, box)
    coords = {name: ("candidate", values) for name, values in zip(names, candidates, strict=True)}
    return _approximate_design(certificate, names, coords, criterion)


def _population_design(
    model, design, point, criterion, runs, parameters, random_seed, latent, replicates
) -> ApproximateDesign:
    """An approximate population design over candidate elementary designs."""
    if runs is not None or any(_box(values) is not None for values in design.values()):
        raise UnsupportedModelError(
            f"an exact design or a box with latent variables: {NO_DESIGN_GRADIENT}. Give "
            "candidate designs (design={name: array with one candidate per row}) for an "
            "approximate design over them, certified by the equivalence theorem."
        )
    names = tuple(design)
    candidates = [np.asarray(design[name]) for name in names]
    if (
        any(values.ndim == 0 for values in candidates)
        or len({values.shape[0] for values in candidates}) > 1
    ):
        raise ArgumentError(
            "with latent, each design entry stacks its candidates along the first axis, the "
            f"same number for every entry; got shapes {[v.shape for v in candidates]}."
        )
    spec = population_spec(model, latent, criterion, parameters)
    # Common random numbers: every candidate sees the same seeds, so their informations
    # differ by the design, not by independent Monte Carlo noise.
    entropy = child_seeds(random_seed, 1)[0].entropy
    informations = [
        population_information(
            model,
            latent,
            point,
            {name: values[c] for name, values in zip(names, candidates, strict=True)},
            replicates=replicates,
            random_seed=np.random.SeedSequence(entropy),
        )
        for c in range(candidates[0].shape[0])
    ]
    labels = informations[0].labels
    certificate = population_design(
        spec, np.array([info.matrix for info in informations]), labels, candidates
    )
    coords = {
        name: ("candidate", values)
        for name, values in zip(names, candidates, strict=True)
        if values.ndim == 1
    }
    return _approximate_design(certificate, names, coords, criterion)


def _approximate_design(certificate, names, coords, criterion: str) -> ApproximateDesign:
    """The result of an approximate design's certificate, its sensitivity labelled by the
    candidates (``coords``)."""
    return ApproximateDesign(
        support=dict(zip(names, certificate.support, strict=True)),
        weights=certificate.weights,
        sensitivity=xr.DataArray(
            certificate.sensitivity, dims=["candidate"], coords=coords, name="sensitivity"
        ),
        sensitivity_max=certificate.sensitivity_max,
        bound=certificate.bound,
        efficiency_bound=certificate.efficiency_bound,
        criterion=certificate.value,
        name=criterion,
    )


def _box(values) -> tuple[float, float] | None:
    """``(low, high)`` when ``values`` is a box, else ``None`` (candidates)."""
    if isinstance(values, tuple) and len(values) == 2 and all(np.ndim(v) == 0 for v in values):
        low, high = float(values[0]), float(values[1])
        if not low < high:
            raise ArgumentError(f"a box (low, high) needs low < high, got {values}.")
        return low, high
    return None
