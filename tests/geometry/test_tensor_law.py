"""check_tensor_law: I_φ = Jᵀ I_θ J, within a model's spaces and between two models."""

import numpy as np
import pymc as pm
import pytest
from pytensor.tensor import dot as pt_dot

from pmfisher.errors import PMFisherError
from pmfisher.geometry.tensor_law import TensorLawCheck, check_tensor_law
from pmfisher.testing import finite_difference_jacobian
from tests.closed_forms import (
    BERNOULLI_Y,
    LOGIT_X,
    LOGIT_Y,
    NORMAL_Y,
    _logit_information,
    bernoulli,
    logistic,
    model_for,
    normal,
)

N_BERNOULLI, N_NORMAL = BERNOULLI_Y.size, NORMAL_Y.size


def bernoulli_logit():
    with pm.Model() as model:
        eta = pm.Normal("eta", 0.0, 3.0)
        pm.Bernoulli("y", logit_p=eta, observed=BERNOULLI_Y)
    return model


def normal_log_sigma():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        log_sigma = pm.Normal("log_sigma", 0.0, 2.0)
        pm.Normal("y", mu, pm.math.exp(log_sigma), observed=NORMAL_Y)
    return model


# A non-symmetric mixing of the logistic coefficients: β = A γ. Its Jacobian is A, so a
# transposed J (Aᵀ I A against A I Aᵀ) shows.
MIXING = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.3], [0.2, 0.0, 1.0]])


def logistic_mixed():
    with pm.Model() as model:
        gamma = pm.Normal("gamma", 0.0, 2.0, shape=3)
        pm.Bernoulli("y", logit_p=LOGIT_X @ (MIXING @ gamma), observed=LOGIT_Y)
    return model


def normal_shifted_log_sigma():
    """μ = m + t/2, σ = exp(t): a non-diagonal, non-linear map (not a PyMC transform)."""
    with pm.Model() as model:
        m = pm.Normal("m", 0.0, 10.0)
        t = pm.Normal("t", 0.0, 2.0)
        pm.Normal("y", m + 0.5 * t, pm.math.exp(t), observed=NORMAL_Y)
    return model


def logit_to_p(phi):
    return {"p": pm.math.sigmoid(phi["eta"])}


def log_sigma_to_sigma(phi):
    return {"mu": phi["mu"], "sigma": pm.math.exp(phi["log_sigma"])}


@pytest.mark.parametrize("p", [0.05, 0.3, 0.6])
def test_bernoulli_p_to_logit(p):
    check = check_tensor_law({"p": p}, model=model_for(bernoulli))
    assert isinstance(check, TensorLawCheck)
    np.testing.assert_allclose(check.direct.values, [[N_BERNOULLI * p * (1 - p)]], rtol=1e-12)
    np.testing.assert_allclose(check.jacobian.values, [[p * (1 - p)]], rtol=1e-12)
    assert check.max_error < 1e-8
    assert list(check.direct.param_i.values) == ["p_logodds__"]
    assert check.jacobian.dims == ("theta", "phi")
    assert not check.gradient_term.values.any()


def test_normal_sigma_to_log_sigma():
    check = check_tensor_law({"mu": 0.2, "sigma": 1.3}, model=model_for(normal))
    np.testing.assert_allclose(
        check.direct.values, np.diag([N_NORMAL / 1.3**2, 2.0 * N_NORMAL]), rtol=1e-12
    )
    np.testing.assert_allclose(check.jacobian.values, np.diag([1.0, 1.3]), rtol=1e-12)
    assert check.max_error < 1e-8


def test_observed_information_needs_the_gradient_term_away_from_the_mode():
    check = check_tensor_law({"p": 0.6}, model=model_for(bernoulli), information="observed")
    assert check.max_error < 1e-8
    # d²p/dη² = p(1-p)(1-2p); the term is (∂ℓ/∂p) d²p/dη².
    k = BERNOULLI_Y.sum()
    score = k / 0.6 - (N_BERNOULLI - k) / 0.4
    np.testing.assert_allclose(check.gradient_term.values, [[score * 0.24 * (1 - 1.2)]], rtol=1e-10)
    without = check.pulled_back.values + check.gradient_term.values
    assert np.abs(without - check.direct.values).max() > 1e-2 * np.abs(check.direct.values).max()


def test_observed_information_is_a_tensor_at_the_mle():
    p_hat = BERNOULLI_Y.mean()
    check = check_tensor_law({"p": p_hat}, model=model_for(bernoulli), information="observed")
    assert abs(check.gradient_term.values[0, 0]) < 1e-10 * abs(check.direct.values[0, 0])
    assert check.max_error < 1e-8


@pytest.mark.parametrize("information", ["expected", "observed"])
def test_between_two_models_with_a_mapping(information):
    check = check_tensor_law(
        {"eta": 0.7},
        model=model_for(bernoulli),
        reparameterized=model_for(bernoulli_logit),
        mapping=logit_to_p,
        information=information,
    )
    p = 1 / (1 + np.exp(-0.7))
    np.testing.assert_allclose(check.jacobian.values, [[p * (1 - p)]], rtol=1e-12)
    assert check.max_error < 1e-8
    assert list(check.direct.param_i.values) == ["eta"]


def test_vector_mapping_jacobian_matches_finite_differences():
    check = check_tensor_law(
        {"mu": 0.4, "log_sigma": 0.2},
        model=model_for(normal),
        reparameterized=model_for(normal_log_sigma),
        mapping=log_sigma_to_sigma,
        information="observed",
    )
    reference = finite_difference_jacobian(lambda x: np.array([x[0], np.exp(x[1])]), [0.4, 0.2])
    np.testing.assert_allclose(check.jacobian.values, reference, rtol=1e-8)
    assert check.max_error < 1e-8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mapping": logit_to_p}, "mapping was given without a reparameterized model"),
        ({"reparameterized": "logit"}, "needs mapping="),
        ({"information": "empirical"}, "information='empirical' is not allowed"),
    ],
)
def test_bad_arguments_are_refused(options, message):
    if options.get("reparameterized") == "logit":
        options = {"reparameterized": model_for(bernoulli_logit)}
    with pytest.raises(PMFisherError, match=message):
        check_tensor_law({"p": 0.3}, model=model_for(bernoulli), **options)


def test_mapping_must_return_the_model_variables():
    with pytest.raises(PMFisherError, match="missing p; unknown q"):
        check_tensor_law(
            {"eta": 0.1},
            model=model_for(bernoulli),
            reparameterized=model_for(bernoulli_logit),
            mapping=lambda phi: {"q": phi["eta"]},
        )


@pytest.mark.parametrize("information", ["expected", "observed"])
def test_untransformed_model_is_its_own_unconstrained_space(information):
    """No variable is transformed (the README's logistic regression): J is the identity and
    the map has no curvature, for both kinds of information."""
    beta = np.array([0.3, -0.8, 0.1])
    check = check_tensor_law({"beta": beta}, model=model_for(logistic), information=information)
    np.testing.assert_array_equal(check.jacobian.values, np.eye(3))
    assert not check.gradient_term.values.any()
    np.testing.assert_allclose(check.direct.values, _logit_information(beta), rtol=1e-10)
    assert check.max_error < 1e-12


@pytest.mark.parametrize("information", ["expected", "observed"])
def test_non_symmetric_linear_map(information):
    """I_γ = Aᵀ I_β A with A not symmetric, against the closed form."""
    gamma = np.array([0.4, -0.6, 0.2])
    check = check_tensor_law(
        {"gamma": gamma},
        model=model_for(logistic),
        reparameterized=model_for(logistic_mixed),
        mapping=lambda phi: {"beta": pt_dot(MIXING, phi["gamma"])},
        information=information,
    )
    np.testing.assert_allclose(check.jacobian.values, MIXING, rtol=1e-12)
    expected = MIXING.T @ _logit_information(MIXING @ gamma) @ MIXING
    np.testing.assert_allclose(check.direct.values, expected, rtol=1e-10)
    np.testing.assert_allclose(check.pulled_back.values, expected, rtol=1e-10)
    assert check.max_error < 1e-10


@pytest.mark.parametrize("information", ["expected", "observed"])
def test_non_diagonal_non_linear_map(information):
    """(m, t) ↦ (μ, σ) = (m + t/2, eᵗ): J = [[1, 1/2], [0, eᵗ]], away from the MLE so that the
    observed information's gradient term is not zero."""
    m, t = 0.4, 0.3
    check = check_tensor_law(
        {"m": m, "t": t},
        model=model_for(normal),
        reparameterized=model_for(normal_shifted_log_sigma),
        mapping=lambda phi: {"mu": phi["m"] + 0.5 * phi["t"], "sigma": pm.math.exp(phi["t"])},
        information=information,
    )
    jacobian = np.array([[1.0, 0.5], [0.0, np.exp(t)]])
    np.testing.assert_allclose(check.jacobian.values, jacobian, rtol=1e-12)
    assert check.max_error < 1e-8
    if information == "observed":
        assert np.abs(check.gradient_term.values).max() > 1.0
