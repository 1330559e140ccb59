"""plot_design draws the sensitivity, its bound and the support with its weights."""

import numpy as np
import pytest
import xarray as xr

from pmfisher import PMFisherError
from pmfisher.design.optimal import ApproximateDesign
from pmfisher.plots import plot_design

CANDIDATES = np.linspace(-1.0, 1.0, 11)


def line_design(**support) -> ApproximateDesign:
    """The D-optimal straight-line design, d(x) = 1 + x² ≤ 2 = p."""
    sensitivity = xr.DataArray(
        1 + CANDIDATES**2, dims=["candidate"], coords={"x": ("candidate", CANDIDATES)}
    )
    return ApproximateDesign(
        support=support or {"x": np.array([-1.0, 1.0])},
        weights=np.array([0.5, 0.5]),
        sensitivity=sensitivity,
        sensitivity_max=2.0,
        bound=2.0,
        efficiency_bound=1.0,
        criterion=0.0,
    )


def test_the_panels_hold_the_sensitivity_bound_and_weights(tmp_path):
    figure = plot_design(line_design(), path=tmp_path / "design.png")
    top, bottom = figure.axes
    curve, bound = top.get_lines()
    np.testing.assert_array_equal(curve.get_xdata(), CANDIDATES)
    np.testing.assert_array_equal(curve.get_ydata(), 1 + CANDIDATES**2)
    assert list(bound.get_ydata()) == [2.0, 2.0]
    stems = bottom.collections[0].get_segments()
    assert [tuple(segment[:, 0]) for segment in stems] == [(-1.0, -1.0), (1.0, 1.0)]
    assert [segment[1, 1] for segment in stems] == [0.5, 0.5]
    assert (tmp_path / "design.png").stat().st_size > 10_000


def test_designs_of_two_containers_are_refused():
    with pytest.raises(PMFisherError, match="one container; this one has 2"):
        plot_design(line_design(x=np.array([-1.0, 1.0]), z=np.array([0.0, 1.0])))
