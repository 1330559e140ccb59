"""``pm.set_data`` reaches every public function: after it, each function gives what it gives on a
model built afresh on the new data (same number of observations, and a new number)."""

import dataclasses
import inspect

import numpy as np
import pymc as pm
import pytest
import xarray as xr

import pmfisher

RNG = np.random.default_rng(20261130)
X_OLD = RNG.normal(size=30)
Y_OLD = 1.0 + 0.5 * X_OLD + RNG.normal(scale=1.2, size=30)
NEW_DATA = {
    "same length": (X_OLD[::-1] + 0.3, -1.0 + 2.0 * X_OLD + RNG.normal(scale=0.8, size=30)),
    "new length": (X := RNG.normal(size=45), 0.5 - 1.5 * X + RNG.normal(scale=0.9, size=45)),
}
POINT = {"a": 0.3, "b": 0.4, "s": 1.1}
OTHER = {"a": 0.1, "b": 0.6, "s": 0.9}


def regression(x, y) -> pm.Model:
    """The likelihood's shape follows the covariate's data container, and a deterministic
    has one entry per observation."""
    with pm.Model() as model:
        covariate = pm.Data("x", x)
        observed = pm.Data("y_obs", y)
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        s = pm.HalfNormal("s", 2.0)
        mean = pm.Deterministic("mean", a + b * covariate)
        pm.Normal("y", mean, s, observed=observed, shape=covariate.shape)
    return model


def _laplace(model):
    return pmfisher.laplace(model=model, draws=200, random_seed=3)


# Every public function that takes a model, called the same way on any model of this file.
CALLS = {
    "observed_information": lambda model: pmfisher.observed_information(model=model),
    "fisher_information": lambda model: (
        pmfisher.fisher_information(POINT, model=model),
        pmfisher.fisher_information(
            POINT, model=model, method="monte_carlo", replicates=200, random_seed=2
        ),
    ),
    "scores": lambda model: pmfisher.scores(POINT, model=model, space="unconstrained"),
    "empirical_fisher": lambda model: pmfisher.empirical_fisher(POINT, model=model),
    "sandwich_covariance": lambda model: pmfisher.sandwich_covariance(model=model),
    "information_matrix_test": lambda model: pmfisher.information_matrix_test(model=model),
    "find_mode": lambda model: pmfisher.find_mode(model=model),
    "laplace": _laplace,
    "delta_method": lambda model: pmfisher.delta_method(_laplace(model), model=model),
    "cramer_rao_bound": lambda model: pmfisher.cramer_rao_bound(POINT, model=model),
    "simulate_estimator": lambda model: pmfisher.simulate_estimator(
        POINT, model=model, replicates=6, random_seed=4
    ),
    "check_tensor_law": lambda model: pmfisher.check_tensor_law(
        POINT, model=model, information="observed"
    ),
    "natural_gradient": lambda model: pmfisher.natural_gradient(POINT, model=model),
    "gauss_newton": lambda model: pmfisher.gauss_newton(POINT, model=model),
    "kl_curvature": lambda model: pmfisher.kl_curvature(POINT, model=model),
    "kl_divergence": lambda model: pmfisher.kl_divergence(POINT, OTHER, model=model),
    "summary": lambda model: pmfisher.summary(model=model),
}


def test_every_public_function_taking_a_model_is_covered():
    taking_a_model = {
        name
        for name in pmfisher.__all__
        if inspect.isfunction(function := getattr(pmfisher, name))
        and "model" in inspect.signature(function).parameters
    }
    assert taking_a_model == set(CALLS)


def _numbers(result, prefix="") -> dict[str, np.ndarray]:
    """Every number and label of a result, flattened to path → array (creation times and
    other provenance attributes left out)."""
    if isinstance(result, tuple):
        return {k: v for i, part in enumerate(result) for k, v in _numbers(part, f"{i}.").items()}
    if dataclasses.is_dataclass(result):
        return {
            key: value
            for field in dataclasses.fields(result)
            for key, value in _numbers(getattr(result, field.name), prefix + field.name).items()
        }
    if isinstance(result, xr.DataTree):
        return {
            key: value
            for node in result.subtree
            for key, value in _numbers(node.to_dataset(), prefix + node.path).items()
        }
    if isinstance(result, xr.Dataset):
        return {
            key: value
            for name, variable in result.data_vars.items()
            for key, value in _numbers(variable, f"{prefix}/{name}").items()
        }
    if isinstance(result, xr.DataArray):
        numbers = {prefix: np.asarray(result.values)}
        numbers.update({f"{prefix}@{dim}": np.asarray(result[dim].values) for dim in result.coords})
        return numbers
    if isinstance(result, dict):
        return {
            key: value
            for name, part in result.items()
            for key, value in _numbers(part, f"{prefix}[{name}]").items()
        }
    if isinstance(result, str):
        return {}
    return {prefix: np.asarray(result)}


def _assert_same(result, expected):
    result, expected = _numbers(result), _numbers(expected)
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(result[key], value, rtol=1e-7, atol=1e-9, err_msg=key)
        else:
            np.testing.assert_array_equal(result[key], value, err_msg=key)


def _differs(result, expected) -> bool:
    try:
        _assert_same(result, expected)
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("change", list(NEW_DATA))
@pytest.mark.parametrize("name", list(CALLS))
def test_set_data_equals_a_model_built_on_the_new_data(name, change):
    call = CALLS[name]
    x_new, y_new = NEW_DATA[change]
    model = regression(X_OLD, Y_OLD)
    before = call(model)  # fills every cache with the old data
    with model:
        pm.set_data({"x": x_new, "y_obs": y_new})
    after = call(model)
    _assert_same(after, call(regression(x_new, y_new)))
    # Otherwise the comparison could not tell stale results from fresh ones.
    assert _differs(after, before)


def crossed(first, second) -> pm.Model:
    """Poisson counts with crossed effects ``a[first] + b[second]``: which entries of ``a``
    and ``b`` meet in an observation (the Hessian's and the Fisher information's sparsity
    pattern) is decided by the values of the two index containers."""
    with pm.Model() as model:
        first_index, second_index = pm.Data("first", first), pm.Data("second", second)
        a = pm.Normal("a", 0.0, 1.0, shape=4)
        b = pm.Normal("b", 0.0, 1.0, shape=3)
        rate = pm.math.exp(a[first_index] + b[second_index])
        pm.Poisson("y", rate, observed=np.arange(12) % 5, shape=first_index.shape)
    return model


SPARSE_CALLS = {
    "observed_information": lambda model, point: pmfisher.observed_information(
        point, model=model, structure="sparse"
    ),
    "fisher_information": lambda model, point: (
        pmfisher.fisher_information(point, model=model, method="exact", structure="sparse").matrix
    ),
}


@pytest.mark.parametrize("name", list(SPARSE_CALLS))
def test_new_index_values_give_the_sparse_routes_a_new_pattern(name):
    """Nested indices first (6 of the 12 pairs of a and b meet), then every pair: a sparsity
    pattern kept from the old indices would drop the new pairs and recover wrong entries."""
    nested = (np.repeat(np.arange(4), 3), np.repeat(np.arange(3), 4))
    every_pair = (np.arange(12) % 4, np.arange(12) % 3)
    point = {"a": np.array([0.2, -0.1, 0.3, 0.0]), "b": np.array([0.1, -0.2, 0.25])}
    model = crossed(*nested)
    before = SPARSE_CALLS[name](model, point)
    with model:
        pm.set_data({"first": every_pair[0], "second": every_pair[1]})
    after = SPARSE_CALLS[name](model, point).data.todense()
    fresh = SPARSE_CALLS[name](crossed(*every_pair), point).data.todense()
    np.testing.assert_allclose(after, fresh, rtol=1e-12, atol=1e-12)
    assert np.count_nonzero(after[:4, 4:]) == 12 > np.count_nonzero(before.data.todense()[:4, 4:])


def logistic(x, y, *, shape_from_data: bool) -> pm.Model:
    """PyMC's prediction idiom: covariates and observations in data containers, the
    likelihood's length read from the covariates (``shape=X.shape[0]``) or left to PyMC."""
    with pm.Model(coords={"covariate": ["age", "dose"]}) as model:
        covariates = pm.Data("X", x)
        observed = pm.Data("y_obs", y)
        beta = pm.Normal("beta", 0.0, 2.0, dims="covariate")
        shape = {"shape": covariates.shape[0]} if shape_from_data else {}
        pm.Bernoulli("y", logit_p=covariates @ beta, observed=observed, **shape)
    return model


@pytest.mark.parametrize("dtype", ["int64", "float64"])
@pytest.mark.parametrize("shape_from_data", [True, False], ids=["shape=X.shape", "no shape"])
def test_laplace_on_a_logistic_regression_in_data_containers(shape_from_data, dtype):
    """Once a crash: the draws' push-forward met the two containers in another order than the
    log-density did and refused its own recipe."""
    rng = np.random.default_rng(5)
    old_x, new_x = rng.normal(size=(40, 2)), rng.normal(size=(55, 2))
    old_y, new_y = (rng.binomial(1, 0.4, size=n).astype(dtype) for n in (40, 55))
    model = logistic(old_x, old_y, shape_from_data=shape_from_data)
    before = _laplace(model)
    with model:
        pm.set_data({"X": new_x, "y_obs": new_y})
    after = _laplace(model)
    _assert_same(after.fit, _laplace(logistic(new_x, new_y, shape_from_data=shape_from_data)).fit)
    assert _differs(after.fit, before.fit)
