"""A ``Mode`` remembers the density it maximized: a function about another density refuses
it, one about the same density (or one with the same maximizer) takes it exactly."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher._core.model.model_graph import model_graph
from pmfisher._core.model.target import TargetDensity
from pmfisher.errors import PointError
from pmfisher.fitting.laplace_marginal import laplace_marginal

Y = np.array([0.5, 1.5, 0.8, 2.2, 0.3, 1.1, 0.9, 1.7])


def exponential_model() -> pm.Model:
    """λ ~ Gamma(2, 1), y ~ Exponential(λ): the MLE 1/ȳ, the constrained posterior mode
    (1 + n)/(1 + Σy) and the unconstrained one (2 + n)/(1 + Σy) all differ."""
    with pm.Model() as model:
        data = pm.Data("y_data", Y)
        lam = pm.Gamma("lam", 2.0, 1.0)
        pm.Exponential("y", lam, observed=data)
    return model


def grouped_model() -> pm.Model:
    """Normal group effects b with a log-normal scale, integrated out with ``latent``."""
    rng = np.random.default_rng(4)
    group = np.repeat(np.arange(5), 4)
    with pm.Model(coords={"group": range(5)}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.LogNormal("tau", 0.0, 1.0)
        b = pm.Normal("b", 0.0, tau, dims="group")
        pm.Normal("y", mu + b[group], 1.0, observed=rng.normal(1.0, 1.5, size=group.size))
    return model


def test_graphs_and_laplace_marginals_are_target_densities():
    model = grouped_model()
    assert isinstance(model_graph(model, space="constrained", terms="likelihood"), TargetDensity)
    marginal = laplace_marginal(model, ["b"], space="constrained", terms="likelihood")
    assert isinstance(marginal, TargetDensity)
    assert (marginal.terms, marginal.space, marginal.latent) == (
        "likelihood",
        "constrained",
        ("b",),
    )


# (Mode's terms, Mode's space, the call's terms, the call's space) → what differs, or None.
REFUSED = [
    ("posterior", "unconstrained", "likelihood", "constrained", "terms='posterior' against"),
    ("likelihood", "constrained", "posterior", "constrained", "terms='likelihood' against"),
    ("posterior", "unconstrained", "posterior", "constrained", "space='unconstrained' against"),
    ("posterior", "constrained", "posterior", "unconstrained", "space='constrained' against"),
]


@pytest.mark.parametrize(("mode_terms", "mode_space", "terms", "space", "difference"), REFUSED)
def test_a_mode_of_another_density_is_refused_and_the_difference_named(
    mode_terms, mode_space, terms, space, difference
):
    model = exponential_model()
    mode = pmfisher.find_mode(model=model, terms=mode_terms, space=mode_space)
    with pytest.raises(PointError, match=difference):
        pmfisher.observed_information(mode, model=model, terms=terms, space=space)
    # Its values, passed on purpose, are a point like any other.
    pmfisher.observed_information(mode.point, model=model, terms=terms, space=space)


def test_a_posterior_mode_is_refused_by_every_function_about_the_likelihood():
    model = exponential_model()
    posterior_mode = pmfisher.find_mode(model=model)  # find_mode's defaults
    calls = [
        lambda: pmfisher.observed_information(posterior_mode, model=model),
        lambda: pmfisher.fisher_information(posterior_mode, model=model),
        lambda: pmfisher.sandwich_covariance(posterior_mode, model=model),
        lambda: pmfisher.cramer_rao_bound(posterior_mode, model=model),
        lambda: pmfisher.scores(posterior_mode, model=model),
    ]
    for call in calls:
        with pytest.raises(PointError, match="maximizes the log-posterior"):
            call()


def test_the_likelihoods_mode_is_the_same_in_either_space():
    """The MLE is invariant: a likelihood mode found in one space is taken in the other,
    and the information there is that of 1/ȳ, n ȳ² in λ and n in log λ."""
    model = exponential_model()
    mode = pmfisher.find_mode(model=model, terms="likelihood", space="unconstrained")
    constrained = pmfisher.observed_information(mode, model=model)
    np.testing.assert_allclose(constrained.values, [[Y.size * Y.mean() ** 2]], rtol=1e-8)
    unconstrained = pmfisher.observed_information(mode, model=model, space="unconstrained")
    np.testing.assert_allclose(unconstrained.values, [[Y.size]], rtol=1e-8)


def test_a_joint_mode_is_no_mode_of_the_laplace_marginal():
    model = grouped_model()
    with pytest.warns(UserWarning, match="not unique"):  # b is free in y's likelihood alone
        joint = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    with pytest.raises(PointError, match=r"latent=None against \['b'\]"):
        pmfisher.observed_information(joint, model=model, latent=["b"])
    marginal = pmfisher.find_mode(model=model, terms="likelihood", space="constrained", latent="b")
    assert marginal.latent == ("b",)
    with pytest.raises(PointError, match=r"latent=\['b'\] against None"):
        pmfisher.observed_information(marginal, model=model)
    np.testing.assert_allclose(
        pmfisher.observed_information(marginal, model=model, latent=["b"]).values,
        pmfisher.observed_information(model=model, latent=["b"]).values,
        rtol=1e-8,
        atol=1e-12,
    )
