"""inference/result.py: a ``Summary`` is its table — indexed by column name, as a DataFrame
over ``param`` — printed by ``inference/table.py`` as text and HTML, and frozen."""

import dataclasses

import numpy as np
import pytest
import xarray as xr

from pmfisher.inference import table as printed
from pmfisher.inference.result import Summary

COLUMNS = {
    "estimate": [3.0, 0.5],
    "se": [1.0, 0.25],
    "z": [3.0, np.nan],
    "p": [0.0027, np.nan],
    "lower": [1.04, 0.01],
    "upper": [4.96, 0.99],
}


@pytest.fixture(scope="module")
def result():
    data = xr.Dataset(
        {
            **{name: ("param", np.array(values)) for name, values in COLUMNS.items()},
            "role": ("param", np.array(["fixed effect", "variance component"], dtype=object)),
            "note": ("param", np.array(["", "b"], dtype=object)),
        },
        coords={"param": ["lam", "sigma"]},
        attrs={
            "density": "log-likelihood, constrained space",
            "estimator": "maximum likelihood",
            "information": "observed",
            "ci": "wald",
            "level": 0.95,
            "n_obs": 7,
            "logp": -13.25,
            "converged": 1,
        },
    )
    return Summary(table=data, notes={"b": "sigma at the edge of the support"})


@pytest.mark.parametrize("column", list(COLUMNS))
def test_indexing_reads_the_table(result, column):
    np.testing.assert_array_equal(result[column].values, COLUMNS[column])
    assert result[column].dims == ("param",)


def test_the_dataframe_is_indexed_by_param(result):
    frame = result.to_dataframe()
    assert frame.index.name == "param"
    assert list(frame.index) == ["lam", "sigma"]
    assert list(frame.columns) == [*COLUMNS, "role", "note"]
    assert frame.loc["sigma", "se"] == 0.25


def test_it_prints_as_the_table_module_writes_it(result):
    assert str(result) == repr(result) == printed.text(result)
    assert result._repr_html_() == printed.html(result)
    text = str(result)
    assert "Variance components" in text
    assert "sigma b" in text
    assert "[b] sigma at the edge of the support" in text


def test_what_is_not_given_is_empty_and_the_result_is_frozen(result):
    bare = Summary(table=result.table)
    assert (bare.conditional_modes, dict(bare.profiles), dict(bare.notes)) == (None, {}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.notes = {}
