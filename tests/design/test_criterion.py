"""design_criterion: values against the information written by hand, gradients against
central finite differences, draws, and the errors."""

import numpy as np
import pymc as pm
import pytest

from pmfisher import (
    NotPositiveDefiniteError,
    PMFisherError,
    design_criterion,
)
from pmfisher.testing import finite_difference_jacobian

DOSE = 10.0
POINT = {"V": 2.0, "k": 0.7, "s": 0.3}
TIMES = np.array([0.1, 0.4, 1.0, 2.0, 3.5, 6.0])  # the model's own schedule
DESIGN = np.linspace(0.2, 5.0, 9)  # another schedule, of another length


@pytest.fixture(scope="module")
def pk():
    """One-compartment bolus: the sampling time enters through a deterministic, nonlinearly."""
    with pm.Model() as model:
        t = pm.Data("t", TIMES)
        y_obs = pm.Data("y_obs", np.ones(TIMES.size))
        pm.Data("unused", np.zeros(TIMES.size))
        volume = pm.LogNormal("V", 0.5, 0.5)
        k = pm.LogNormal("k", -0.5, 0.5)
        s = pm.HalfNormal("s", 1.0)
        conc = pm.Deterministic("conc", DOSE / volume * pm.math.exp(-k * t))
        pm.Deterministic("auc", DOSE / (volume * k))
        pm.Normal("y", conc, s, observed=y_obs, shape=t.shape)
    return model


def pk_information(times, volume=2.0, k=0.7, s=0.3):
    """M = Σ J_μᵀJ_μ/σ² + 2/σ² e_s e_sᵀ, with ∂μ/∂V = −μ/V and ∂μ/∂k = −tμ."""
    mu = DOSE / volume * np.exp(-k * times)
    jacobian = np.column_stack([-mu / volume, -times * mu, np.zeros_like(times)])
    matrix = jacobian.T @ jacobian / s**2
    matrix[2, 2] += 2 * times.size / s**2
    return matrix


def by_hand(matrix, criterion):
    inverse = np.linalg.inv(matrix)
    if criterion == "D":
        return np.linalg.slogdet(matrix)[1]
    if criterion == "A":
        return np.trace(inverse)
    if criterion == "E":
        return np.linalg.eigvalsh(matrix)[0]
    if criterion == "Ds":  # k of interest, V and s nuisance
        return -np.log(inverse[1, 1])
    # c: the delta-method variance of auc = D / (V k)
    gradient = np.array([-DOSE / (2.0**2 * 0.7), -DOSE / (2.0 * 0.7**2), 0.0])
    return gradient @ inverse @ gradient


CASES = [("D", None), ("A", None), ("E", None), ("Ds", ["k"]), ("c", "auc")]


@pytest.mark.parametrize(("criterion", "parameters"), CASES)
def test_value_is_the_criterion_of_the_hand_written_information(pk, criterion, parameters):
    result = design_criterion(
        {"t": DESIGN}, model=pk, point=POINT, criterion=criterion, parameters=parameters
    )
    matrix = pk_information(DESIGN)
    np.testing.assert_allclose(result.information.values, matrix, rtol=1e-12)
    assert result.value == pytest.approx(by_hand(matrix, criterion), rel=1e-10)
    assert result.goal == ("maximize" if criterion in {"D", "E", "Ds"} else "minimize")


@pytest.mark.parametrize(("criterion", "parameters"), CASES)
def test_gradient_matches_central_finite_differences(pk, criterion, parameters):
    def value(times):
        return design_criterion(
            {"t": times}, model=pk, point=POINT, criterion=criterion, parameters=parameters
        ).value

    exact = design_criterion(
        {"t": DESIGN}, model=pk, point=POINT, criterion=criterion, parameters=parameters
    ).gradient["t"]
    reference = finite_difference_jacobian(value, DESIGN, step=1e-3)
    assert exact.shape == DESIGN.shape
    np.testing.assert_allclose(exact, reference, rtol=1e-6, atol=1e-9 * np.abs(reference).max())


def test_linear_combination_is_c_transpose_inverse_c(pk):
    result = design_criterion(
        {"t": DESIGN}, model=pk, point=POINT, criterion="c", parameters={"V": 1.0, "k": -3.0}
    )
    contrast = np.array([1.0, -3.0, 0.0])
    expected = contrast @ np.linalg.solve(pk_information(DESIGN), contrast)
    assert result.value == pytest.approx(expected, rel=1e-10)


def test_draws_average_the_criterion_with_its_mcse(pk):
    draws = {"V": np.array([2.0, 2.5, 1.6]), "k": np.array([0.7, 0.5, 0.9]), "s": np.full(3, 0.3)}
    result = design_criterion({"t": DESIGN}, model=pk, point=draws)
    per_draw = np.array(
        [
            by_hand(pk_information(DESIGN, v, k, 0.3), "D")
            for v, k in zip(draws["V"], draws["k"], strict=True)
        ]
    )
    assert result.value == pytest.approx(per_draw.mean(), rel=1e-10)
    assert result.mcse == pytest.approx(per_draw.std(ddof=1) / np.sqrt(3), rel=1e-8)
    assert result.information.dims == ("draw", "param_i", "param_j")


def test_the_model_is_left_as_it_was(pk):
    design_criterion({"t": DESIGN}, model=pk, point=POINT)
    np.testing.assert_array_equal(pk["t"].get_value(), TIMES)
    assert pk["y_obs"].get_value().shape == TIMES.shape


def test_a_name_that_is_not_a_container_is_refused(pk):
    with pytest.raises(PMFisherError, match=r"'dose', which is not a pm\.Data container"):
        design_criterion({"dose": DESIGN}, model=pk, point=POINT)


def test_a_container_outside_the_likelihood_is_refused(pk):
    with pytest.raises(PMFisherError, match="unused do not enter the distribution"):
        design_criterion({"unused": TIMES}, model=pk, point=POINT)


def test_observations_are_not_a_design(pk):
    with pytest.raises(PMFisherError, match="holds the observed values of y"):
        design_criterion({"y_obs": TIMES}, model=pk, point=POINT)


def test_a_singular_information_names_what_it_cannot_determine():
    with pm.Model() as model:
        x = pm.Data("x", np.zeros(3))
        a, b = pm.Normal("a"), pm.Normal("b")
        pm.Normal("y", a + b * x, 1.0, observed=np.zeros(3), shape=x.shape)
    # Every run at x = 2: a + 2b is determined, a and b are not.
    with pytest.raises(NotPositiveDefiniteError, match=r"along a \(.*\), b \(") as error:
        design_criterion({"x": np.full(4, 2.0)}, model=model, point={"a": 0.0, "b": 1.0})
    assert set(error.value.loadings) == {"a", "b"}
