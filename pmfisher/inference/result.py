"""The result of :func:`pmfisher.summary`: a labelled table with what it was computed from,
printed like statsmodels' and lme4's summaries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import xarray as xr

from pmfisher.inference import table

__all__ = ["Summary"]


@dataclass(frozen=True)
class Summary:
    """Estimates, standard errors, z, p and intervals, one row per parameter.

    Attributes
    ----------
    table : xarray.Dataset
        Over ``param``: ``estimate``, ``se``, ``z``, ``p``, ``lower``, ``upper`` (the
        interval at ``level``), ``role`` (``"fixed effect"``, ``"variance component"``,
        ``"derived"`` for a deterministic by the delta method) and ``note`` (the marks of
        the reasons in ``notes`` that affect the row, ``""`` if none). ``attrs`` record
        the density differentiated (``density``, ``terms``, ``latent``), the
        ``information``, the intervals (``ci``, ``level``), ``n_obs``, ``logp`` and
        ``converged``.
    conditional_modes : xarray.Dataset or None
        With ``latent``: over ``effect``, the latent effects' conditional modes (``mode``)
        and conditional standard errors (``se``), lme4's ``ranef(condVar=TRUE)``.
    profiles : Mapping[str, xarray.Dataset]
        With ``ci="profile"``: per parameter label, its profile over ``step`` (``value``
        in the constrained space, ``signed_root_deviance``), for
        :func:`pmfisher.plots.plot_profile`.
    notes : Mapping[str, str]
        Mark → the reason once (a mode search that did not converge, an estimate at the edge
        of the support, a singular information, an interval that ends at the edge).
    """

    table: xr.Dataset
    conditional_modes: xr.Dataset | None = None
    profiles: Mapping[str, xr.Dataset] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> xr.DataArray:
        return self.table[name]

    def to_dataframe(self) -> pd.DataFrame:
        """The table as a pandas DataFrame indexed by ``param``."""
        return self.table.to_dataframe()

    def __str__(self) -> str:
        return table.text(self)

    def __repr__(self) -> str:
        return table.text(self)

    def _repr_html_(self) -> str:
        return table.html(self)
