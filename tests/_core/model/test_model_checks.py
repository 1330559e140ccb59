"""What a model must offer, said before anything is built: continuous free variables, at least
one of them, and under ``terms="likelihood"`` observations that are not imputed."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher._core.model.model_checks import require_supported
from pmfisher.errors import UnsupportedModelError


def test_a_continuous_model_with_observations_passes():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=[0.1, -0.4])
    for terms in ("likelihood", "posterior"):
        assert require_supported(model, terms) is None


@pytest.mark.parametrize("terms", ["likelihood", "posterior"])
def test_discrete_and_empty_models_are_refused_under_both_terms(terms):
    with pm.Model() as discrete:
        n = pm.Poisson("n", 3.0)
        b = pm.Bernoulli("b", 0.5)
        pm.Normal("y", n + b, 1.0, observed=[1.0, 2.0])
    with pytest.raises(UnsupportedModelError, match=r"free variable\(s\) n, b are discrete"):
        require_supported(discrete, terms)
    with pm.Model() as empty:
        pm.Normal("y", 0.0, 1.0, observed=[1.0])
    with pytest.raises(UnsupportedModelError, match="no free variables: there is nothing"):
        require_supported(empty, terms)


def test_imputed_observations_are_refused_under_the_likelihood_only():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Normal("y", mu, 1.0, observed=np.array([0.3, np.nan, 1.2]))
    assert [rv.name for rv in model.free_RVs] == ["mu", "y_unobserved"]
    with pytest.raises(UnsupportedModelError, match="y_unobserved are imputed missing"):
        require_supported(model, "likelihood")
    require_supported(model, "posterior")


def test_discrete_free_variable_is_named():
    with pm.Model() as model:
        k = pm.Poisson("k", 3.0)
        pm.Normal("y", k, 1.0, observed=[1.0, 2.0])
    with pytest.raises(pmfisher.UnsupportedModelError, match="k are discrete"):
        pmfisher.observed_information({"k": 2}, model=model)


def test_likelihood_without_observed_variables():
    with pm.Model() as model:
        mu = pm.Normal("mu")
        pm.Potential("like", -((mu - 1.0) ** 2))
    with pytest.raises(pmfisher.UnsupportedModelError, match="Potential terms like"):
        pmfisher.observed_information({"mu": 0.0}, model=model)
    # The posterior includes the potential: -d²/dmu² [-mu²/2 - (mu-1)²] = 3.
    info = pmfisher.observed_information({"mu": 0.0}, model=model, terms="posterior")
    np.testing.assert_allclose(info.values, [[3.0]], rtol=1e-12)
