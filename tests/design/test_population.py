"""Population (mixed-effects) designs: the information of the marginal likelihood with the
random effects integrated out, against the closed form of a linear mixed model."""

import numpy as np
import pymc as pm
import pytest

from pmfisher import design_criterion, find_mode, optimal_design
from pmfisher.errors import ArgumentError, UnsupportedModelError

TRUTH = {"b0": 1.0, "b1": 0.5, "tau0": 0.8, "tau1": 0.3, "sigma": 0.5}
LATENT = ["u0", "u1"]


def mixed_model(times_per_subject: np.ndarray) -> pm.Model:
    """Random intercept and slope, y_ij = b0 + u0_i + (b1 + u1_i) t_ij + e_ij, written as
    users do: times, subject index and observations in containers along dims."""
    subjects, per = times_per_subject.shape
    t = times_per_subject.ravel()
    index = np.repeat(np.arange(subjects), per)
    coords = {"subject": np.arange(subjects), "obs": np.arange(t.size)}
    with pm.Model(coords=coords) as model:
        time = pm.Data("t", t, dims="obs")
        subject = pm.Data("subject_idx", index, dims="obs")
        observed = pm.Data("y_observed", np.zeros(t.size), dims="obs")
        b0, b1 = pm.Normal("b0", 0, 10), pm.Normal("b1", 0, 10)
        tau0, tau1 = pm.HalfNormal("tau0"), pm.HalfNormal("tau1")
        sigma = pm.HalfNormal("sigma")
        u0 = pm.Normal("u0", 0, tau0, dims="subject")
        u1 = pm.Normal("u1", 0, tau1, dims="subject")
        mu = pm.Deterministic("mu", b0 + u0[subject] + (b1 + u1[subject]) * time, dims="obs")
        pm.Normal("y", mu, sigma, observed=observed, dims="obs")
    return model


def closed_form_information(times_per_subject: np.ndarray) -> np.ndarray:
    """y_i ~ N(X_i b, V_i), V_i = Z_i D Z_iᵀ + σ² I with Z_i = X_i = [1, t_i], D = diag(τ0²,
    τ1²): I_b = Σ X_iᵀ V_i⁻¹ X_i; for the variance parameters θ = (τ0, τ1, σ),
    I_jk = ½ Σ tr(V_i⁻¹ ∂_j V_i V_i⁻¹ ∂_k V_i); the two blocks are orthogonal."""
    tau0, tau1, sigma = TRUTH["tau0"], TRUTH["tau1"], TRUTH["sigma"]
    info = np.zeros((5, 5))
    for t in times_per_subject:
        design = np.column_stack([np.ones_like(t), t])
        covariance = design @ np.diag([tau0**2, tau1**2]) @ design.T + sigma**2 * np.eye(t.size)
        precision = np.linalg.inv(covariance)
        info[:2, :2] += design.T @ precision @ design
        derivatives = [
            2 * tau0 * np.outer(design[:, 0], design[:, 0]),
            2 * tau1 * np.outer(t, t),
            2 * sigma * np.eye(t.size),
        ]
        for j, dj in enumerate(derivatives):
            for k, dk in enumerate(derivatives):
                info[2 + j, 2 + k] += 0.5 * np.trace(precision @ dj @ precision @ dk)
    return info


@pytest.fixture(scope="module")
def model():
    return mixed_model(np.tile([0.0, 1.0, 2.0, 3.0], (4, 1)))


@pytest.fixture(scope="module")
def late_design():
    """The same shape as the model's data, other times: the information must move."""
    return np.array(
        [[0.0, 2.0, 4.0, 6.0], [0.0, 0.5, 5.0, 6.0], [1.0, 2.0, 3.0, 6.0], [0, 3, 4, 5]]
    )


@pytest.fixture(scope="module")
def evaluated(model, late_design):
    """150 replicates: the largest MCSE of the variance block is 0.57 of the teeth bound
    below at 300 (measured), √2 of that here, and the errors stay within 1.5 MCSE."""
    return design_criterion(
        {"t": late_design.ravel()},
        model=model,
        point=TRUTH,
        latent=LATENT,
        replicates=150,
        random_seed=11,
    )


def test_fixed_effects_block_is_the_closed_form_exactly(evaluated, late_design):
    # −∇²_bb L = Σ X_iᵀ V_i⁻¹ X_i whatever the data: no Monte Carlo noise.
    expected = closed_form_information(late_design)
    np.testing.assert_allclose(evaluated.information.values[:2, :2], expected[:2, :2], rtol=1e-8)
    np.testing.assert_array_less(evaluated.information_mcse.values[:2, :2], 1e-10)


def test_variance_block_and_cross_terms_within_mcse(evaluated, late_design):
    expected = closed_form_information(late_design)
    error = np.abs(evaluated.information.values - expected)
    mcse = evaluated.information_mcse.values
    np.testing.assert_array_less(error[2:, :], 4 * mcse[2:, :] + 1e-9)
    assert mcse[2:, 2:].max() < 0.1 * np.abs(expected[2:, 2:]).max()  # the check has teeth


def test_criterion_is_the_log_det_of_the_closed_form(evaluated, late_design):
    expected = np.linalg.slogdet(closed_form_information(late_design))[1]
    assert evaluated.gradient is None
    assert evaluated.mcse > 0
    assert abs(evaluated.value - expected) < 4 * evaluated.mcse


def test_more_subjects_with_fewer_samples_each_and_model_restored(model):
    """Six subjects of three samples on a model of four of four: the fixed-effect block is the
    closed form whatever the data, so a few replicates check it (100 took 29 s of a clean
    run for the same check)."""
    times = np.tile([0.0, 3.0, 6.0], (6, 1))
    before = {name: model[name].get_value().copy() for name in ("t", "subject_idx")}
    result = design_criterion(
        {"t": times.ravel(), "subject_idx": np.repeat(np.arange(6), 3), "subject": 6},
        model=model,
        point=TRUTH,
        latent=LATENT,
        replicates=8,
        random_seed=3,
    )
    expected = closed_form_information(times)
    np.testing.assert_allclose(result.information.values[:2, :2], expected[:2, :2], rtol=1e-8)
    for name, values in before.items():
        np.testing.assert_array_equal(model[name].get_value(), values)
    assert len(model.coords["subject"]) == 4


def test_population_design_over_candidate_schedules(model):
    """Three candidate schedules per subject; the certificate: max sensitivity = p = 5 at
    the optimum over the candidates (for the Monte Carlo information, whatever its number of
    replicates: 20, where 60 took 41 s of a clean run)."""
    schedules = np.array(
        [np.tile(row, (4, 1)).ravel() for row in ([0, 1, 2, 3], [0, 0, 6, 6], [0, 3, 3, 6])],
        dtype=float,
    )
    best = optimal_design(
        model=model,
        design={"t": schedules},
        point=TRUTH,
        latent=LATENT,
        replicates=20,
        random_seed=5,
    )
    assert best.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert best.sensitivity_max == pytest.approx(5.0, rel=1e-5)
    assert best.efficiency_bound == pytest.approx(1.0, abs=1e-5)
    assert best.sensitivity.sizes["candidate"] == 3


def test_refusals(model):
    with pytest.raises(UnsupportedModelError, match="derivative with respect to the design"):
        optimal_design(model=model, design={"t": (0.0, 6.0)}, runs=16, point=TRUTH, latent=LATENT)
    with pytest.raises(ArgumentError, match=r"neither a pm\.Data container"):
        design_criterion({"times": np.zeros(16)}, model=model, point=TRUTH, latent=LATENT)
    with pytest.raises(ArgumentError, match="observations are not a design"):
        design_criterion({"y_observed": np.zeros(16)}, model=model, point=TRUTH, latent=LATENT)
    with pytest.raises(UnsupportedModelError, match="deterministic 'mu'"):
        design_criterion(
            {"t": np.zeros(16)},
            model=model,
            point=TRUTH,
            latent=LATENT,
            criterion="c",
            parameters="mu",
        )


def test_constant_observations_are_refused():
    with pm.Model() as model:
        tau = pm.HalfNormal("tau")
        u = pm.Normal("u", 0, tau, shape=3)
        x = pm.Data("x", np.ones(3))
        pm.Normal("y", u * x, 1.0, observed=np.zeros(3))
    with pytest.raises(UnsupportedModelError, match=r"in a pm\.Data container"):
        design_criterion({"x": np.ones(3)}, model=model, point={"tau": 1.0}, latent=["u"])


def test_against_the_simulated_marginal_mle():
    """The inverse population information predicts the covariance of the marginal MLE:
    data sets simulated with NumPy under a 12-subject design, each fitted by find_mode with
    the random effects integrated out; the MLE's variances of b0, b1 and σ (the parameters
    12 subjects estimate without small-sample bias) within 4 MCSE of the bound. The bound's
    own Monte Carlo error is in σ's entry alone (the fixed-effect block is exact and
    orthogonal to the variances): 5% off the closed form at 30 replicates (0.4% at 100),
    against the 4 MCSE (about half the variance) that 120 fits allow."""
    times = np.tile([0.0, 1.0, 3.0, 6.0], (12, 1))
    model = mixed_model(times)
    bound = np.linalg.inv(
        design_criterion(
            {"t": times.ravel()},
            model=model,
            point=TRUTH,
            latent=LATENT,
            replicates=30,
            random_seed=2,
        ).information.values
    )
    rng = np.random.default_rng(20261204)
    estimates = []
    for _ in range(120):
        u0 = rng.normal(0, TRUTH["tau0"], (12, 1))
        u1 = rng.normal(0, TRUTH["tau1"], (12, 1))
        noise = rng.normal(0, TRUTH["sigma"], times.shape)
        y = TRUTH["b0"] + u0 + (TRUTH["b1"] + u1) * times + noise
        pm.set_data({"y_observed": y.ravel()}, model=model)
        mode = find_mode(model=model, terms="likelihood", latent=LATENT, start=TRUTH)
        estimates.append([mode.point[name] for name in ("b0", "b1", "sigma")])
    estimates = np.array(estimates)
    centred = estimates - estimates.mean(axis=0)
    variance = centred.var(axis=0, ddof=1)
    mcse = np.sqrt(((centred**4).mean(axis=0) - variance**2) / len(estimates))
    predicted = np.diag(bound)[[0, 1, 4]]
    np.testing.assert_array_less(np.abs(variance - predicted), 4 * mcse)
