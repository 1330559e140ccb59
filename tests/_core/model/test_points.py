"""Points: flattening into a graph's space and back (transforms, a simplex by its free
coordinates, broadcasting, value-variable names), and a ``PointError`` naming the variable for
a missing, misshapen, non-numeric, non-finite or out-of-support value."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.points import check_in_support, constrained_point, flatten
from pmfisher.errors import PointError
from tests.closed_forms import bernoulli, logistic, model_for, normal

WEIGHTS = np.array([0.2, 0.3, 0.5])


@pytest.fixture(scope="module")
def mixture_means():
    """A simplex of three weights over named components, a bounded scale and a vector."""
    with pm.Model(coords={"component": ["a", "b", "c"], "obs": range(4)}) as model:
        w = pm.Dirichlet("w", np.ones(3), dims="component")
        sigma = pm.HalfNormal("sigma", 1.0)
        shift = pm.Normal("shift", 0.0, 1.0, shape=2)
        mean = pm.math.dot(w, [1.0, 2.0, 4.0]) + shift.sum()
        pm.Normal("y", mean, sigma, observed=[1.1, 2.3, 1.9, 2.8], dims="obs")
    return model


def test_a_simplex_enters_the_constrained_space_by_its_free_coordinates(mixture_means):
    graph = model_graph(mixture_means, space="constrained", terms="posterior")
    point = {"w": WEIGHTS, "sigma": 0.7, "shift": [0.25, -1.5]}
    flat = flatten(graph, point)
    np.testing.assert_array_equal(flat, [0.2, 0.3, 0.7, 0.25, -1.5])
    back = constrained_point(graph, flat)
    assert list(back) == ["w", "sigma", "shift"]
    np.testing.assert_allclose(back["w"], WEIGHTS, rtol=1e-15)
    assert back["sigma"].shape == ()
    np.testing.assert_array_equal(back["shift"], [0.25, -1.5])


def test_the_unconstrained_flat_vector_is_pymcs_transform(mixture_means):
    graph = model_graph(mixture_means, space="unconstrained", terms="posterior")
    point = {"w": WEIGHTS, "sigma": 0.7, "shift": [0.25, -1.5]}
    flat = flatten(graph, point)
    # PyMC's own value-variable transforms of the same point.
    expected = mixture_means.initial_point()
    for rv in mixture_means.free_RVs:
        value = mixture_means.rvs_to_values[rv]
        transform = mixture_means.rvs_to_transforms[rv]
        given = np.asarray(point[rv.name], dtype="float64")
        expected[value.name] = (
            transform.forward(given, *rv.owner.inputs).eval() if transform else given
        )
    reference = np.concatenate(
        [np.ravel(expected[mixture_means.rvs_to_values[rv].name]) for rv in mixture_means.free_RVs]
    )
    np.testing.assert_allclose(flat, reference, rtol=1e-14)
    assert flat.size == 2 + 1 + 2
    back = constrained_point(graph, flat)
    np.testing.assert_allclose(back["w"], WEIGHTS, rtol=1e-14)
    assert float(back["sigma"]) == pytest.approx(0.7, rel=1e-15)
    # The same point given by value-variable names is read in the unconstrained space.
    by_values = {
        mixture_means.rvs_to_values[rv].name: expected[mixture_means.rvs_to_values[rv].name]
        for rv in mixture_means.free_RVs
    }
    np.testing.assert_allclose(flatten(graph, by_values), flat, rtol=1e-15)


def test_a_scalar_broadcasts_to_the_variables_shape(mixture_means):
    graph = model_graph(mixture_means, space="constrained", terms="posterior")
    flat = flatten(graph, {"w": WEIGHTS, "sigma": 1.0, "shift": 0.5})
    np.testing.assert_array_equal(flat[-2:], [0.5, 0.5])


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (
            [1.0, 2.0, 3.0],
            r"shift has shape \(3,\) in the point, but the model's shift has shape \(2,\)",
        ),
        ("high", "shift must be numeric in the point, got str 'high'"),
        ([0.0, np.nan], r"the point has non-finite values at shift\[1\]\."),
    ],
)
def test_a_bad_value_is_named(mixture_means, shift, message):
    graph = model_graph(mixture_means, space="constrained", terms="posterior")
    with pytest.raises(PointError, match=message):
        flatten(graph, {"w": WEIGHTS, "sigma": 1.0, "shift": shift})


def test_a_transform_outside_the_support_is_named(mixture_means):
    graph = model_graph(mixture_means, space="unconstrained", terms="posterior")
    with pytest.raises(
        PointError, match=r"outside the support of sigma: .* not finite at sigma_log__"
    ):
        flatten(graph, {"w": WEIGHTS, "sigma": -1.0, "shift": [0.0, 0.0]})


def test_check_in_support_returns_the_log_density_or_names_the_variable():
    with pm.Model() as model:
        mu = pm.Uniform("mu", -3.0, 3.0)
        pm.Normal("y", mu, 1.0, observed=[0.5, 1.5])
    graph = model_graph(model, space="constrained", terms="posterior")
    logp = check_in_support(graph, np.array([1.0]))
    # PyMC's own log-density without the Jacobian, at the interval transform of mu = 1.
    reference = model.compile_logp(jacobian=False)({"mu_interval__": np.log(4.0 / 2.0)})
    assert logp == pytest.approx(float(reference), rel=1e-14)
    # In closed form: −log 6 − 2·(½ log 2π) − ½(0.25 + 0.25), up to PyMC's float32 bounds.
    assert logp == pytest.approx(-np.log(6.0) - np.log(2 * np.pi) - 0.25, rel=1e-7)
    # The likelihood alone is finite at mu = 5; the prior's support is not.
    with pytest.raises(PointError, match="outside the support of mu: the model's transform"):
        check_in_support(graph, np.array([5.0]))


def test_points_convert_between_spaces_through_the_model_transforms():
    model = model_for(normal)
    unconstrained = model_graph(model, space="unconstrained", terms="posterior")
    x = unconstrained.flatten({"mu": 0.5, "sigma": 2.0})
    np.testing.assert_allclose(x, [0.5, np.log(2.0)], rtol=1e-15)
    point = unconstrained.constrained_point(x)
    np.testing.assert_allclose([point["mu"], point["sigma"]], [0.5, 2.0], rtol=1e-15)
    # A point given by value-variable names is read in the unconstrained space.
    same = unconstrained.flatten({"mu": 0.5, "sigma_log__": np.log(2.0)})
    np.testing.assert_allclose(same, x, rtol=1e-15)


def test_missing_variable_in_point_is_named():
    with pytest.raises(pmfisher.PointError, match="missing free variable\\(s\\) sigma"):
        pmfisher.observed_information({"mu": 0.0}, model=model_for(normal))


def test_point_outside_support_names_the_variable():
    with pytest.raises(pmfisher.PointError, match="outside the support of p"):
        pmfisher.observed_information({"p": 1.5}, model=model_for(bernoulli))


def test_wrong_shape_is_named():
    with pytest.raises(pmfisher.PointError, match="beta has shape \\(2,\\)"):
        pmfisher.observed_information({"beta": [1.0, 2.0]}, model=model_for(logistic))
