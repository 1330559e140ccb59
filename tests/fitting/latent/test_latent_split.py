"""The split of a model's free variables into latent u (unconstrained) and the rest φ: block
layout, indices into the model's flat vectors, the (u, φ) round trip, the joint density against
PyMC's with the latent Jacobian, the mixed derivatives, the Gaussian-conditional truth table,
and bad names."""

import numpy as np
import pymc as pm
import pytensor
import pytest

from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import ArgumentError, UnsupportedModelError
from pmfisher.fitting.latent.latent_split import latent_split
from pmfisher.testing import finite_difference_jacobian

POINT = {
    "mu": np.array([0.4, -1.1]),
    "z": np.array([0.3, -0.2, 0.9]),
    "tau": np.array(1.7),
    "w": np.array([0.5, 2.5]),
}


@pytest.fixture(scope="module")
def interleaved():
    """Latent z (3) and w (2, log-normal) between the hyperparameters mu (2) and tau."""
    group = np.array([0, 1, 2, 0, 1, 2, 0])
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0, shape=2)
        z = pm.Normal("z", mu[0], 1.0, shape=3)
        tau = pm.HalfNormal("tau", 1.0)
        w = pm.LogNormal("w", mu[1], tau, shape=2)
        pm.Normal("y", z[group] * w[0] + w[1], tau, observed=np.linspace(-1.0, 2.0, 7))
    return model


def flat_of(model, space, point):
    return model_graph(model, space=space, terms="posterior").flatten(point)


@pytest.mark.parametrize("space", ["constrained", "unconstrained"])
def test_blocks_and_indices(interleaved, space):
    split = latent_split(model_graph(interleaved, space=space, terms="posterior"), ["w", "z"])
    assert split.latent == ("z", "w")  # model order, whatever the order asked
    assert [(b.rv_name, b.name, b.start, b.stop) for b in split.u_blocks] == [
        ("z", "z", 0, 3),
        ("w", "w_log__", 3, 5),
    ]
    tau_name = "tau" if space == "constrained" else "tau_log__"
    assert [(b.rv_name, b.name, b.start, b.stop) for b in split.phi_blocks] == [
        ("mu", "mu", 0, 2),
        ("tau", tau_name, 2, 3),
    ]
    assert (split.n_u, split.n_phi) == (5, 3)
    assert split.u_labels == ("z[0]", "z[1]", "z[2]", "w_log__[0]", "w_log__[1]")
    assert split.phi_labels == ("mu[0]", "mu[1]", tau_name)
    # Model order in the flat vectors: mu 0–1, z 2–4, tau 5, w 6–7.
    np.testing.assert_array_equal(split.u_index, [2, 3, 4, 6, 7])
    np.testing.assert_array_equal(split.phi_index, [0, 1, 5])
    # Not contiguous: the columns are the index itself.
    np.testing.assert_array_equal(split.u_columns, split.u_index)
    # Contiguous (z alone): a slice over the same columns.
    alone = latent_split(model_graph(interleaved, space=space, terms="posterior"), ["z"])
    assert alone.u_columns == slice(2, 5)
    flat = np.arange(8.0)
    np.testing.assert_array_equal(flat[alone.u_columns], flat[alone.u_index])


def test_split_and_constrained_point_round_trip(interleaved):
    graph = model_graph(interleaved, space="unconstrained", terms="posterior")
    split = latent_split(graph, ["z", "w"])
    u, phi = split.split(graph.flatten(POINT))
    np.testing.assert_allclose(u, [0.3, -0.2, 0.9, np.log(0.5), np.log(2.5)], rtol=1e-15)
    np.testing.assert_allclose(phi, [0.4, -1.1, np.log(1.7)], rtol=1e-15)
    back = split.constrained_point(u, phi)
    assert list(back) == ["mu", "z", "tau", "w"]
    for name, value in POINT.items():
        np.testing.assert_allclose(back[name], value, rtol=1e-14)
        assert back[name].shape == value.shape
    # A batch of flat vectors splits along the last axis.
    both = np.stack([graph.flatten(POINT)] * 2)
    assert split.split(both)[0].shape == (2, 5)


def test_the_joint_density_is_pymcs_with_the_latent_jacobian(interleaved):
    """Unconstrained φ: PyMC's log-density with every Jacobian. Constrained φ: the same less
    log τ (τ's Jacobian), while w's Jacobian stays (the integral is over log w)."""
    logp = interleaved.compile_logp(jacobian=True)
    values = interleaved.initial_point()
    values.update(mu=POINT["mu"], z=POINT["z"], tau_log__=np.log(1.7), w_log__=np.log(POINT["w"]))
    expected = float(logp(values))
    for space, correction in (("unconstrained", 0.0), ("constrained", -np.log(1.7))):
        graph = model_graph(interleaved, space=space, terms="posterior")
        split = latent_split(graph, ["z", "w"])
        value = pytensor.function([split.u, split.phi], split.logp)
        u, _ = split.split(flat_of(interleaved, "unconstrained", POINT))
        _, phi = split.split(graph.flatten(POINT))
        assert float(value(u, phi)) == pytest.approx(expected + correction, rel=1e-13)


def test_mixed_derivatives_are_the_phi_jacobian_of_the_u_gradient(interleaved):
    graph = model_graph(interleaved, space="unconstrained", terms="posterior")
    split = latent_split(graph, ["z", "w"])
    u, phi = split.split(graph.flatten(POINT))
    gradient = pytensor.function([split.u, split.phi], pytensor.grad(split.logp, split.u))
    reference = finite_difference_jacobian(lambda p: np.asarray(gradient(u, p)), phi)
    mixed = np.asarray(split.mixed_fn(u, phi))
    assert mixed.shape == (5, 3)
    np.testing.assert_allclose(mixed, reference, rtol=1e-7, atol=1e-9)
    assert np.abs(mixed).min() < np.abs(mixed).max()  # not a constant block


@pytest.mark.parametrize(
    ("latent", "error", "match"),
    [
        ((), ArgumentError, r"latent=\(\) names no variables"),
        (["nope"], ArgumentError, "'nope' is not a variable of the model"),
        (["y"], ArgumentError, "'y' is an observed variable"),
        (["z", "z"], ArgumentError, "names a variable twice"),
        (["mu", "z", "tau", "w"], UnsupportedModelError, "nothing is left to estimate"),
    ],
)
def test_bad_latent_names(interleaved, latent, error, match):
    graph = model_graph(interleaved, space="unconstrained", terms="posterior")
    with pytest.raises(error, match=match):
        latent_split(graph, latent)


@pytest.mark.parametrize(
    ("latent_density", "likelihood", "gaussian"),
    [
        ("normal", "normal", True),
        ("normal", "normal in the scale", False),
        ("normal", "poisson", False),
        ("normal", "normal through a per-group deterministic", True),
        ("normal", "poisson through a per-group deterministic", False),
        ("student-t", "normal", False),
        ("log-normal", "normal", False),
        ("normal and a quadratic potential", "normal", True),
        ("normal and a quartic potential", "normal", False),
    ],
)
def test_the_graph_decides_whether_the_conditional_is_gaussian(
    latent_density, likelihood, gaussian
):
    """A truth table: the conditional is Gaussian exactly when every term is quadratic in the
    unconstrained latent coordinates (a log-normal effect is Gaussian in its log, but enters
    the likelihood as exp(u): not quadratic)."""
    with pm.Model(coords={"group": range(4), "obs": range(12)}) as model:
        group = pm.Data("group_index", np.repeat(np.arange(4), 3), dims="obs")
        s = pm.HalfNormal("s", 1)
        if latent_density.startswith("normal"):
            z = pm.Normal("z", 0, s, dims="group")
        elif latent_density == "student-t":
            z = pm.StudentT("z", nu=4, mu=0, sigma=s, dims="group")
        else:
            z = pm.LogNormal("z", 0, s, dims="group")
        if latent_density.endswith("quadratic potential"):
            pm.Potential("tilt", -((z[0] - z[1]) ** 2) + z[2])
        elif latent_density.endswith("quartic potential"):
            pm.Potential("tilt", -(z[0] ** 4))
        if likelihood.endswith("per-group deterministic"):
            # The user's idiom: the group means as a deterministic, indexed by observation.
            theta = pm.Deterministic("theta", 1.0 + s * z, dims="group")
            if likelihood.startswith("normal"):
                pm.Normal("y", theta[group], 0.5, observed=np.arange(12.0) / 4, dims="obs")
            else:
                pm.Poisson("y", pm.math.exp(theta[group]), observed=np.arange(12) % 3, dims="obs")
        elif likelihood == "normal":
            pm.Normal("y", 1.0 + z[group], 0.5, observed=np.arange(12.0) / 4)
        elif likelihood == "normal in the scale":
            pm.Normal("y", 1.0, pm.math.exp(z[group]), observed=np.arange(12.0) / 4)
        else:
            pm.Poisson("y", pm.math.exp(z[group]), observed=np.arange(12) % 3)
    graph = model_graph(model, space="unconstrained", terms="posterior")
    split = latent_split(graph, "z")
    assert split.conditional_is_gaussian is gaussian


def test_the_constrained_point_holds_every_entry_of_a_zero_sum_effect():
    """A zero-sum effect has one free coordinate fewer than entries: the point holds all of
    them, equal to the model graph's own reading of the same flat vector."""
    with pm.Model(coords={"group": range(5)}) as model:
        s = pm.HalfNormal("s", 1)
        a = pm.ZeroSumNormal("a", s, dims="group")
        pm.Normal("y", a, 1.0, observed=np.arange(5.0), dims="group")
    graph = model_graph(model, space="unconstrained", terms="posterior")
    split = latent_split(graph, "a")
    flat = np.array([0.3, -0.2, 0.5, 0.1, -0.4])  # s_log__, then a's four free coordinates
    u, phi = split.split(flat)
    point = split.constrained_point(u, phi)
    expected = graph.constrained_point(flat)
    assert point.keys() == expected.keys()
    assert point["a"].shape == (5,)
    np.testing.assert_allclose(point["a"].sum(), 0.0, atol=1e-14)
    for name, value in expected.items():
        np.testing.assert_allclose(point[name], value, rtol=1e-14)
