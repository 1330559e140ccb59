"""The printed table: numbers end where their column titles end, marks and reasons appear
once, and the entries are formatted for reading."""

import warnings

import numpy as np
import pymc as pm
import pytest
import statsmodels.api as sm

import pmfisher
from pmfisher.inference.table import number


@pytest.fixture(scope="module")
def collinear():
    """A logistic regression whose last two columns are equal: β₁ + β₂ is identified, β₁ and
    β₂ are not; the intercept is."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=60)
    design = np.column_stack([np.ones(60), x, x])
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.3 + x))))
    with pm.Model(coords={"coef": ["a", "b", "b_again"], "obs": np.arange(60)}) as model:
        data = pm.Data("X", design, dims=("obs", "coef"))
        beta = pm.Normal("beta", 0, 10, dims="coef")
        pm.Bernoulli("y", logit_p=pm.math.dot(data, beta), observed=y, dims="obs")
    return model, design, y


def test_a_singular_information_marks_its_rows_and_keeps_the_rest(collinear):
    model, design, y = collinear
    reduced = sm.GLM(y, design[:, :2], family=sm.families.Binomial()).fit(tol=1e-13)
    with pytest.warns(UserWarning, match="not unique"):
        result = pmfisher.summary(model=model)
    table = result.table
    assert list(table["note"].values) == ["", "s", "s"]
    assert np.isnan(table["se"].values[1:]).all()
    np.testing.assert_allclose(float(table["se"].values[0]), reduced.bse[0], atol=1e-6)
    assert "singular" in result.notes["s"]
    text = str(result)
    assert text.count("[s]") == 1
    assert "beta[b] s" in text


def test_numbers_end_under_their_titles(collinear):
    model, _, _ = collinear
    with warnings.catch_warnings():  # the flat direction, warned about above
        warnings.simplefilter("ignore", UserWarning)
        lines = str(pmfisher.summary(model=model)).splitlines()
    heading = next(line for line in lines if "estimate" in line)
    row = next(line for line in lines if line.startswith("beta[a]"))
    for title, entry in zip(("estimate", "se"), row.split()[1:3], strict=True):
        assert heading.index(title) + len(title) == row.index(entry) + len(entry)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1.23456, "1.2346"),
        (-0.5, "-0.5000"),
        (0.0, "0.0000"),
        (2.5e-6, "2.500e-06"),
        (3.1e8, "3.100e+08"),
        (-123456.0, "-1.235e+05"),
        (float("nan"), "—"),
        (float("-inf"), "-inf"),
    ],
)
def test_entries(value, shown):
    assert number(value) == shown


def test_a_search_that_does_not_converge_still_prints_with_every_row_marked():
    """Equal observations: the likelihood grows without bound as σ → 0, so there is no MLE."""
    with pm.Model(coords={"obs": np.arange(4)}) as model:
        mu = pm.Normal("mu", 0, 10)
        sigma = pm.HalfNormal("sigma", 5)
        pm.Normal("y", mu, sigma, observed=np.full(4, 1.5), dims="obs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = pmfisher.summary(model=model)
    table = result.table
    assert table.attrs["converged"] == 0
    marks = [set(note.split(",")) for note in table["note"].values]
    assert "*" in marks[0]
    assert {"*", "b"} <= marks[1]
    assert "did not converge" in result.notes["*"]
    assert "sigma" in result.notes["b"]
    text = str(result)
    assert "Converged:" in text
    assert text.count("[*]") == 1
