"""Errors by kind, and warnings that point at the user's own line."""

import warnings

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher import errors


def test_every_error_is_a_pmfisher_error_and_a_value_error():
    kinds = [
        errors.ArgumentError,
        errors.ConvergenceError,
        errors.InsufficientMemoryError,
        errors.NotFiniteError,
        errors.NotPositiveDefiniteError,
        errors.PointError,
        errors.UnsupportedModelError,
    ]
    for kind in kinds:
        assert issubclass(kind, errors.PMFisherError)
        assert issubclass(kind, ValueError)
    assert set(errors.__all__) == {kind.__name__ for kind in kinds} | {"PMFisherError"}


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda model: pmfisher.observed_information(model=model, structure="banded"), "Argument"),
        (
            lambda model: pmfisher.fisher_information(
                model=model, replicates=1, method="monte_carlo"
            ),
            "Argument",
        ),
        (lambda model: pmfisher.sandwich_covariance(model=model, latent=["a"]), "Argument"),
        (
            lambda model: pmfisher.observed_information({"a": np.nan, "b": 0.0}, model=model),
            "Point",
        ),
    ],
    ids=["option", "count", "latent refused", "point"],
)
def test_each_kind_is_raised_where_it_belongs(call, kind):
    with pm.Model() as model:
        a = pm.Normal("a")
        b = pm.Normal("b")
        pm.Normal("y", a + 2 * b, 1.0, observed=[0.1, -0.3, 0.8])
    with pytest.raises(getattr(errors, f"{kind}Error")):
        call(model)


def test_a_warning_points_at_the_line_that_called_pmfisher():
    """Raised deep inside pmfisher, below the decorator of the public function, and still
    attributed to this file."""
    with pm.Model() as model:
        a = pm.Normal("a")
        b = pm.Normal("b")
        pm.Normal("y", a + b, 1.0, observed=[0.1, -0.3, 0.8])  # only a + b is identified
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pmfisher.observed_information({"a": 0.2, "b": 0.1}, model=model)
    singular = [w for w in caught if "singular" in str(w.message)]
    assert singular
    assert singular[0].filename == __file__
