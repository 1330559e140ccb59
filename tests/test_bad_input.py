"""Bad input, everywhere: every public function answers it with a pmfisher error that names
the variable (or the argument) and the reason."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from tests.zoo import model_for

GOOD = {"mu": 0.4, "sigma": 1.3}

# Every public function that takes a point, called with ``point`` on ``model``.
TAKES_A_POINT = {
    "observed_information": lambda point, model: pmfisher.observed_information(point, model=model),
    "observed_information_unconstrained": lambda point, model: pmfisher.observed_information(
        point, model=model, space="unconstrained", terms="posterior"
    ),
    "fisher_information": lambda point, model: pmfisher.fisher_information(
        point, model=model, replicates=16
    ),
    "scores": lambda point, model: pmfisher.scores(point, model=model),
    "empirical_fisher": lambda point, model: pmfisher.empirical_fisher(point, model=model),
    "sandwich_covariance": lambda point, model: pmfisher.sandwich_covariance(point, model=model),
    "information_matrix_test": lambda point, model: pmfisher.information_matrix_test(
        point, model=model
    ),
    "cramer_rao_bound": lambda point, model: pmfisher.cramer_rao_bound(point, model=model),
    "simulate_estimator": lambda point, model: pmfisher.simulate_estimator(
        point, model=model, replicates=4
    ),
    "check_tensor_law": lambda point, model: pmfisher.check_tensor_law(point, model=model),
    "natural_gradient": lambda point, model: pmfisher.natural_gradient(point, model=model),
    "gauss_newton": lambda point, model: pmfisher.gauss_newton(point, model=model),
    "kl_curvature": lambda point, model: pmfisher.kl_curvature(point, model=model),
    "kl_divergence": lambda point, model: pmfisher.kl_divergence(point, GOOD, model=model),
    "find_mode_start": lambda point, model: pmfisher.find_mode(model=model, start=point),
}

BAD_POINTS = {
    "nan": ({"mu": np.nan, "sigma": 1.3}, "non-finite values at mu"),
    "outside_support": ({"mu": 0.4, "sigma": -1.0}, "outside the support of sigma"),
    "outside_interval": ({"mu": 5.0, "sigma": 1.3}, "outside the support of mu"),
    "wrong_shape": ({"mu": [0.1, 0.2], "sigma": 1.3}, r"mu has shape \(2,\)"),
    "string": ({"mu": "zero", "sigma": 1.3}, "mu must be numeric"),
    "missing": ({"mu": 0.4}, r"missing free variable\(s\) sigma"),
    "not_a_mapping": ([0.4, 1.3], "a point must map free-variable names to values"),
}


@pytest.fixture(scope="module")
def model():
    # mu ~ Uniform(-3, 3), sigma ~ HalfCauchy: an interval and a log transform.
    return model_for("uniform_halfcauchy")


@pytest.mark.parametrize("bad", list(BAD_POINTS))
@pytest.mark.parametrize("function", list(TAKES_A_POINT))
def test_bad_point_is_named(model, function, bad):
    point, message = BAD_POINTS[bad]
    with pytest.raises(pmfisher.PointError, match=message):
        TAKES_A_POINT[function](point, model)


NO_POINT = {
    "find_mode": lambda model: pmfisher.find_mode(model=model),
    "laplace": lambda model: pmfisher.laplace(model=model, draws=25),
    "sandwich_covariance": lambda model: pmfisher.sandwich_covariance(model=model),
    "information_matrix_test": lambda model: pmfisher.information_matrix_test(model=model),
    "observed_information": lambda model: pmfisher.observed_information(model=model),
}


@pytest.mark.parametrize("function", [*TAKES_A_POINT, *NO_POINT])
@pytest.mark.parametrize("given", ["a string", 3, None])
def test_model_that_is_not_a_model_is_named(function, given):
    def call(model):
        if function in TAKES_A_POINT:
            return TAKES_A_POINT[function](GOOD, model)
        return NO_POINT[function](model)

    # None means the context stack, which is empty here.
    message = "no model was given" if given is None else "model= must be a pymc.Model"
    with pytest.raises(pmfisher.PMFisherError, match=message):
        call(given)


@pytest.mark.parametrize("function", [*TAKES_A_POINT, *NO_POINT])
def test_empty_model_says_there_is_nothing_to_estimate(function):
    with pm.Model() as empty:
        pass

    def call():
        if function in TAKES_A_POINT:
            return TAKES_A_POINT[function]({}, empty)
        return NO_POINT[function](empty)

    with pytest.raises(pmfisher.UnsupportedModelError, match=r"no free variables|no observed"):
        call()


def test_non_identified_model_names_the_flat_direction():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        pm.Normal("y", a + b, 1.0, observed=[0.3, -0.2, 0.5])
    point = {"a": 0.1, "b": 0.05}
    for function in (pmfisher.cramer_rao_bound, pmfisher.natural_gradient):
        with pytest.raises(pmfisher.NotPositiveDefiniteError) as raised:
            function(point, model=model)
        assert set(raised.value.loadings) == {"a", "b"}
