"""optimal_design recovers the published optimal designs, each certified by the equivalence
theorem (the sensitivity's maximum equals the number of parameters)."""

import numpy as np
import pymc as pm
import pytest
from scipy import optimize

from pmfisher import design_criterion, optimal_design

CERTIFIED = 1e-6  # sensitivity_max / p − 1 and 1 − efficiency_bound at the optimum


def certified(result, p):
    assert result.bound == pytest.approx(p, rel=1e-9)
    assert result.sensitivity_max == pytest.approx(p, rel=CERTIFIED)
    assert result.efficiency_bound >= 1 - CERTIFIED
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-12)


def polynomial(degree):
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(5))
        beta = pm.Normal("beta", shape=degree + 1)
        mean = sum(beta[j] * x**j for j in range(degree + 1))
        pm.Normal("y", mean, 0.7, observed=np.zeros(5), shape=x.shape)
    return model


@pytest.fixture(scope="module")
def logistic():
    with pm.Model() as model:
        dose = pm.Data("dose", np.linspace(-2.0, 2.0, 6))
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Bernoulli("y", logit_p=a + b * dose, observed=np.zeros(6, dtype=int), shape=dose.shape)
    return model


@pytest.fixture(scope="module")
def michaelis_menten():
    with pm.Model() as model:
        x = pm.Data("x", np.linspace(0.1, 2.0, 6))
        y_obs = pm.Data("y_obs", np.ones(6))
        v_max, k = pm.HalfNormal("v_max"), pm.HalfNormal("K")
        s = pm.HalfNormal("s")
        rate = pm.Deterministic("rate", v_max * x / (k + x))
        pm.Normal("y", rate, s, observed=y_obs, shape=x.shape)
    return model


def test_straight_line_on_candidates():
    result = optimal_design(
        model=polynomial(1),
        design={"x": np.linspace(-1, 1, 21)},
        point={"beta": np.array([0.3, 1.0])},
    )
    np.testing.assert_allclose(result.support["x"], [-1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [0.5, 0.5], atol=1e-6)
    certified(result, 2)
    # M = diag(1, 1)/σ², so d(x) = tr(M⁻¹ I(x)) = 1 + x² over the candidates.
    np.testing.assert_allclose(result.sensitivity, 1 + result.sensitivity["x"] ** 2, rtol=1e-6)


def test_quadratic_on_candidates():
    result = optimal_design(
        model=polynomial(2),
        design={"x": np.linspace(-1, 1, 21)},
        point={"beta": np.array([0.3, 1.0, -0.5])},
    )
    np.testing.assert_allclose(result.support["x"], [-1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [1 / 3] * 3, atol=1e-6)
    certified(result, 3)


def test_two_parameter_logistic_in_a_box(logistic):
    a, b = 0.5, 1.2
    # Equal weights at ±z on the linear predictor maximize z²·w(z)², w = e^z/(1+e^z)²:
    # z·tanh(z/2) = 1.
    z = optimize.brentq(lambda z: z * np.tanh(z / 2) - 1, 0.5, 3.0)
    assert z == pytest.approx(1.5434, abs=5e-5)
    result = optimal_design(model=logistic, design={"dose": (-4.0, 4.0)}, point={"a": a, "b": b})
    np.testing.assert_allclose(result.support["dose"], (np.array([-z, z]) - a) / b, atol=1e-4)
    np.testing.assert_allclose(result.weights, [0.5, 0.5], atol=1e-4)
    certified(result, 2)


def test_michaelis_menten_in_a_box(michaelis_menten):
    k, x_max = 0.5, 2.0
    result = optimal_design(
        model=michaelis_menten,
        design={"x": (0.0, x_max)},
        point={"v_max": 1.0, "K": k, "s": 0.1},
    )
    np.testing.assert_allclose(result.support["x"], [k * x_max / (2 * k + x_max), x_max], atol=1e-4)
    np.testing.assert_allclose(result.weights, [0.5, 0.5], atol=1e-4)
    certified(result, 3)  # the noise scale's information does not depend on x


def test_atkinson_compartmental_model():
    """Atkinson, Chaloner, Herzberg and Juritz (Biometrics 1993), theophylline in a horse:
    η = θ₃(e^{−θ₁t} − e^{−θ₂t}), θ = (0.05884, 4.298, 21.80), t in [0, 24]; the locally
    D-optimal design puts weight 1/3 at t = 0.2288, 1.3886 and 18.417 (also Atkinson, Donev
    and Tobias 2007, §17.3)."""
    with pm.Model() as model:
        t = pm.Data("t", np.linspace(0.5, 24.0, 18))
        theta = pm.HalfNormal("theta", 10.0, shape=3)
        mean = theta[2] * (pm.math.exp(-theta[0] * t) - pm.math.exp(-theta[1] * t))
        pm.Normal("y", mean, 1.0, observed=np.zeros(18), shape=t.shape)
    result = optimal_design(
        model=model, design={"t": (0.0, 24.0)}, point={"theta": np.array([0.05884, 4.298, 21.80])}
    )
    np.testing.assert_allclose(result.support["t"], [0.2288, 1.3886, 18.417], rtol=2e-4)
    np.testing.assert_allclose(result.weights, [1 / 3] * 3, atol=1e-4)
    certified(result, 3)


def test_exact_designs_replicate_the_approximate_optimum(michaelis_menten):
    """Four runs: two at each support point; the model's six observations follow the four."""
    k, x_max = 0.5, 2.0
    result = optimal_design(
        model=michaelis_menten,
        design={"x": (0.0, x_max)},
        point={"v_max": 1.0, "K": k, "s": 0.1},
        runs=4,
        random_seed=1,
    )
    optimum = k * x_max / (2 * k + x_max)
    np.testing.assert_allclose(result.support["x"], [optimum, optimum, x_max, x_max], atol=1e-4)
    assert michaelis_menten["x"].get_value().size == 6


def test_exact_logistic_design_of_two_runs(logistic):
    z = optimize.brentq(lambda z: z * np.tanh(z / 2) - 1, 0.5, 3.0)
    result = optimal_design(
        model=logistic,
        design={"dose": (-4.0, 4.0)},
        point={"a": 0.5, "b": 1.2},
        runs=2,
        random_seed=3,
    )
    np.testing.assert_allclose(result.support["dose"], (np.array([-z, z]) - 0.5) / 1.2, atol=1e-4)


def test_draws_give_the_certified_average_criterion_design(logistic):
    """A prior over (a, b): the design maximizes the average of log det M(ξ, θ_s); its value
    is that average, written by hand (M = Σ w p(1−p) [1, x; x, x²]), and the averaged
    sensitivity peaks at p = 2 on the support."""
    draws = {"a": np.array([0.5, -0.3, 0.2, 0.8]), "b": np.array([1.2, 0.8, 1.6, 1.0])}
    result = optimal_design(model=logistic, design={"dose": (-4.0, 4.0)}, point=draws)
    certified(result, 2)
    x, w = result.support["dose"], result.weights
    by_hand = []
    for a, b in zip(draws["a"], draws["b"], strict=True):
        p = 1 / (1 + np.exp(-(a + b * x)))
        features = np.column_stack([np.ones_like(x), x])
        matrix = features.T @ ((w * p * (1 - p))[:, None] * features)
        by_hand.append(np.linalg.slogdet(matrix)[1])
    assert result.criterion == pytest.approx(np.mean(by_hand), rel=1e-10)


@pytest.mark.parametrize(
    ("criterion", "parameters"), [("A", None), ("Ds", ["beta[2]"])], ids=["A", "Ds-curvature"]
)
def test_quadratic_a_and_ds_optimal_weights_are_a_quarter_a_half_a_quarter(criterion, parameters):
    """On −1, 0, 1 with weights (w, 1 − 2w, w): tr M⁻¹ = σ²[(2w + 1)/(2w(1 − 2w)) + 1/(2w)] is
    least at w = 1/4 (8σ²), and so is the variance of the curvature, σ²/(2w(1 − 2w)) (8σ²);
    each certificate's bound is the criterion's own constant (tr M⁻¹; s = 1)."""
    result = optimal_design(
        model=polynomial(2),
        design={"x": np.linspace(-1, 1, 21)},
        point={"beta": np.array([0.3, 1.0, -0.5])},
        criterion=criterion,
        parameters=parameters,
    )
    sigma2 = 0.7**2
    w = optimize.minimize_scalar(
        lambda w: (2 * w + 1) / (2 * w * (1 - 2 * w)) + 1 / (2 * w), bounds=(0.01, 0.49)
    ).x
    assert w == pytest.approx(0.25, abs=1e-5)
    np.testing.assert_allclose(result.support["x"], [-1.0, 0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(result.weights, [0.25, 0.5, 0.25], atol=1e-4)
    bound = 8 * sigma2 if criterion == "A" else 1.0
    assert result.bound == pytest.approx(bound, rel=1e-6)
    assert result.sensitivity_max == pytest.approx(bound, rel=1e-6)
    assert result.efficiency_bound >= 1 - 1e-6


def test_efficiency_of_a_users_design_against_the_optimum():
    """Runs at −1, 0, 1, 1 against ±1 with weights ½: per run M = [[1, ¼], [¼, ¾]]/σ²
    against I/σ², so the D-efficiency is √(3/4 − 1/16) = √(11/16); for A it is
    tr(I)/tr(M⁻¹) with tr(M⁻¹) = (1 + ¾)/(11/16) (per run, σ² aside)."""
    model = polynomial(1)
    point = {"beta": np.array([0.3, 1.0])}
    runs = np.array([-1.0, 0.0, 1.0, 1.0])
    for criterion, expected in [("D", np.sqrt(11 / 16)), ("A", 2 / ((7 / 4) / (11 / 16)))]:
        optimum = optimal_design(
            model=model, design={"x": np.linspace(-1, 1, 21)}, point=point, criterion=criterion
        )
        user = design_criterion({"x": runs}, model=model, point=point, criterion=criterion)
        assert optimum.efficiency(user, runs=4) == pytest.approx(expected, rel=1e-6)


def test_two_factors_in_a_square_put_a_quarter_on_each_corner():
    """y = a + b·x₁ + c·x₂ on [−1, 1]²: the 2² factorial, weight ¼ per corner (p = 3)."""
    with pm.Model() as model:
        x1 = pm.Data("x1", np.zeros(4))
        x2 = pm.Data("x2", np.zeros(4))
        beta = pm.Normal("beta", shape=3)
        pm.Normal(
            "y", beta[0] + beta[1] * x1 + beta[2] * x2, 1.0, observed=np.zeros(4), shape=x1.shape
        )
    result = optimal_design(
        model=model,
        design={"x1": (-1.0, 1.0), "x2": (-1.0, 1.0)},
        point={"beta": np.array([0.1, 0.5, -0.4])},
    )
    corners = sorted(zip(result.support["x1"].round(6), result.support["x2"].round(6), strict=True))
    assert corners == [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)]
    np.testing.assert_allclose(result.weights, [0.25] * 4, atol=1e-4)
    certified(result, 3)
