"""Pictures of an optimal approximate design: where the runs go and why that is optimal."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from pmfisher.design.optimal import ApproximateDesign
from pmfisher.errors import ArgumentError
from pmfisher.reporting.plots import _save

__all__ = ["plot_design"]


def plot_design(result: ApproximateDesign, *, efficiencies=None, path=None) -> Figure:
    r"""The design's support points and weights over its sensitivity function and bound.

    The top panel draws the sensitivity :math:`s(x, \xi)` over the candidates and its bound
    :math:`b` (``p`` for D): the equivalence theorem's certificate is that the curve touches
    the line at the support points and stays below it elsewhere, and the title states the
    efficiency bound :math:`b / \max_x s`. The bottom panel draws the support points as
    stems whose heights are their weights. Designs of one container only.

    ``efficiencies`` (label → efficiency against this optimum, e.g. from
    :meth:`~pmfisher.design.optimal.ApproximateDesign.efficiency`) adds a panel of bars
    against the optimum's 1: the share of the runs the optimal design needs for the same
    precision.

    Examples
    --------
    >>> import numpy as np, pymc as pm
    >>> from pmfisher import optimal_design
    >>> from pmfisher.plots import plot_design
    >>> with pm.Model() as model:
    ...     x = pm.Data("x", np.zeros(3))
    ...     a, b = pm.Normal("a"), pm.Normal("b")
    ...     y = pm.Normal("y", a + b * x, 1.0, observed=np.zeros(3), shape=x.shape)
    >>> best = optimal_design(model=model, design={"x": np.linspace(-1, 1, 21)},
    ...                       point={"a": 0.0, "b": 1.0})
    >>> figure = plot_design(best)
    >>> len(figure.axes)
    2
    >>> len(plot_design(best, efficiencies={"x = -1, 0, 1": 0.75}).axes)
    3
    """
    if len(result.support) != 1:
        raise ArgumentError(
            f"plot_design draws designs of one container; this one has {len(result.support)} "
            f"({', '.join(result.support)})."
        )
    [(name, support)] = result.support.items()
    candidates = np.asarray(result.sensitivity[name].values)
    order = np.argsort(candidates)
    if efficiencies is None:
        figure = Figure(figsize=(7.0, 5.0), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    else:
        figure = Figure(figsize=(12.0, 5.0), layout="constrained")
        left, right = figure.subfigures(1, 2, width_ratios=[7, 5])
        top, bottom = left.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        _efficiency_panel(right.subplots(), efficiencies)
    top.plot(
        candidates[order],
        result.sensitivity.values[order],
        color="tab:blue",
        label=r"sensitivity $s(x, \xi)$",
    )
    top.axhline(result.bound, color="black", linestyle="--", label=f"bound b = {result.bound:.4g}")
    top.set_ylabel("sensitivity")
    top.set_title(
        f"max s = {result.sensitivity_max:.6g}, efficiency ≥ {result.efficiency_bound:.6f}"
    )
    top.legend(loc="lower right", frameon=False)
    bottom.vlines(support, 0, result.weights, color="tab:red", linewidth=2)
    bottom.scatter(support, result.weights, color="tab:red", zorder=3)
    for point, weight in zip(support, result.weights, strict=True):
        bottom.annotate(
            f"{point:.4g}\nw = {weight:.3f}",
            (point, weight),
            xytext=(4, -4),
            textcoords="offset points",
            fontsize=8,
            va="top",
        )
    bottom.set_ylim(0, min(1.0, 1.35 * float(result.weights.max())))
    bottom.set_ylabel("weight")
    bottom.set_xlabel(name)
    return _save(figure, path)


def _efficiency_panel(axis, efficiencies) -> None:
    """Bars of each design's efficiency against the optimum's 1."""
    labels = list(efficiencies)
    values = np.array([float(efficiencies[label]) for label in labels])
    positions = np.arange(len(labels))
    axis.barh(positions, values, color="tab:blue")
    axis.axvline(1.0, color="black", linestyle="--", label="the optimum")
    for position, value in zip(positions, values, strict=True):
        axis.annotate(f"{value:.3f}", (value, position), xytext=(4, 0),
                      textcoords="offset points", va="center")  # fmt: skip
    axis.set_yticks(positions, labels)
    axis.set_xlim(0, 1.15)
    axis.set_xlabel("efficiency against the optimum")
    axis.legend(loc="lower right", frameon=False)
