"""Every case study runs (smoke mode) and its summary matches the closed form it illustrates."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pmfisher.errors import PMFisherError
from pmfisher.reporting.case_studies import CASE_STUDIES, run_case_studies
from pmfisher.reporting.cli import main


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("case_studies")


def run(name, out_dir):
    summary = run_case_studies(out_dir, smoke=True, names=[name])[name]
    assert (out_dir / f"{name}.png").stat().st_size > 10_000
    assert json.loads((out_dir / f"{name}.json").read_text()) == summary
    return summary


def test_score_two_forms(out_dir):
    summary = run("score_two_forms", out_dir)
    for entry in summary["four_models"].values():
        closed = np.array(entry["closed_form"])
        np.testing.assert_allclose(entry["exact"], closed, rtol=1e-10, atol=1e-12)
        for estimator in ("score_covariance", "negative_hessian"):
            estimate = np.array(entry[estimator])
            mcse = np.array(entry[f"{estimator}_mcse"])
            assert np.all(np.abs(estimate - closed) <= 4 * mcse + 1e-12)
    last = summary["poisson_path"][-1]
    for estimator in ("score_covariance", "negative_hessian"):
        assert abs(last[estimator] - 1 / summary["rate"]) < 4 * last[f"{estimator}_mcse"]


def test_curvature_at_the_peak(out_dir):
    summary = run("curvature_at_the_peak", out_dir)
    for n in (6, 60):
        entry = summary[f"n={n}"]
        assert entry["mle"] == pytest.approx(entry["mle_closed_form"], rel=1e-6)
        assert entry["observed_information"] == pytest.approx(
            entry["observed_information_closed_form"], rel=1e-10
        )
        assert entry["osculating_radius"] == pytest.approx(1 / entry["observed_information"])
    # Ten times the data, about ten times the curvature (J = n / λ̂²).
    ratio = summary["n=60"]["observed_information"] / summary["n=6"]["observed_information"]
    expected = 10 * (summary["n=60"]["mle"] / summary["n=6"]["mle"]) ** -2
    assert ratio == pytest.approx(expected, rel=1e-6)


def test_cramer_rao_poisson(out_dir):
    summary = run("cramer_rao_poisson", out_dir)
    replicates = summary["replicates"]
    for row in summary["by_sample_size"]:
        assert row["bound"] == pytest.approx(row["bound_closed_form"], rel=1e-12)
        assert abs(row["variance"] - row["bound"]) < 4 * row["variance_mcse"]
        assert abs(row["bias"]) < 4 * row["bias_mcse"]
    largest = summary["by_sample_size"][-1]
    assert abs(largest["coverage"] - 0.95) < 4 * np.sqrt(0.95 * 0.05 / replicates)
    rescaled = summary["rescaled_error"]
    # The sample variance of √n(λ̂ − λ) estimates λ; its relative MCSE is about √(2/R).
    assert rescaled["variance"] == pytest.approx(summary["rate"], rel=4 * np.sqrt(2 / replicates))
    assert rescaled["ks_pvalue"] > 1e-3


def test_kl_curvature(out_dir):
    summary = run("kl_curvature", out_dir)
    bernoulli = summary["bernoulli"]
    assert bernoulli["fisher_information"] == pytest.approx(bernoulli["closed_form"], rel=1e-10)
    assert bernoulli["kl_curvature"] == pytest.approx(bernoulli["closed_form"], rel=1e-10)
    # KL / (½Iδ²) − 1 = slope · δ + O(δ²): the third-order term of the expansion.
    for delta in (0.01, -0.01, 0.001):
        measured = bernoulli["ratio_minus_one"][str(delta)]
        assert measured == pytest.approx(bernoulli["cubic_ratio_slope"] * delta, rel=0.1)
    normal = summary["normal"]
    np.testing.assert_allclose(normal["fisher_information"], normal["closed_form"], rtol=1e-10)
    np.testing.assert_allclose(normal["kl_curvature"], normal["closed_form"], rtol=1e-10)
    # On the Fisher ellipse ½δᵀIδ = c, KL/c = 1 + O(√c): the spread shrinks like √c.
    levels = normal["kl_over_c_on_fisher_ellipse"]
    spreads = {}
    for level, entry in levels.items():
        assert entry["min_kl_over_c"] < 1 < entry["max_kl_over_c"]
        spreads[float(level)] = entry["max_kl_over_c"] - entry["min_kl_over_c"]
    assert spreads[0.01] / spreads[0.001] == pytest.approx(np.sqrt(10), rel=0.25)


def test_gaussian_information_matrix(out_dir):
    summary = run("gaussian_information_matrix", out_dir)
    closed = np.array(summary["closed_form"])
    np.testing.assert_allclose(summary["exact"], closed, rtol=1e-10)
    np.testing.assert_allclose(summary["bound"], summary["bound_closed_form"], rtol=1e-10)
    for estimator in ("score_covariance", "negative_hessian"):
        difference = np.abs(np.array(summary[estimator]) - closed)
        assert np.all(difference <= 4 * np.array(summary[f"{estimator}_mcse"]) + 1e-12)
    variances = np.diag(summary["estimate_covariance"])
    mcse = np.array(summary["estimate_variance_mcse"])
    assert np.all(np.abs(variances - summary["finite_sample_variance"]) < 4 * mcse)
    replicates = summary["replicates"]
    assert abs(summary["estimate_correlation"]) < 4 / np.sqrt(replicates)
    assert abs(summary["inside_95_ellipse"] - 0.95) < 4 * np.sqrt(0.95 * 0.05 / replicates)


def test_reparameterization(out_dir):
    summary = run("reparameterization", out_dir)
    assert summary["information_in_p_max_relative_error"] < 1e-8
    assert summary["information_in_eta_max_relative_error"] < 1e-8
    for p, law in summary["bernoulli_tensor_law"].items():
        assert law["expected_max_error"] < 1e-8
        assert law["observed_max_error"] < 1e-8
        assert law["between_models_max_error"] < 1e-8
        assert law["jacobian"] == pytest.approx(float(p) * (1 - float(p)), rel=1e-12)
    normal = summary["normal_log_sigma_tensor_law"]
    assert normal["expected_max_error"] < 1e-8
    assert normal["observed_max_error"] < 1e-8
    np.testing.assert_allclose(normal["direct"], normal["closed_form"], rtol=1e-10)
    p_hat = summary["successes"] / summary["observations"]
    for step in summary["steps"]:
        natural = step["natural_step_in_p"]
        assert natural == pytest.approx(p_hat - step["p"], rel=1e-10)  # Fisher scoring
        assert step["natural_step_in_eta_mapped_to_p"] == pytest.approx(natural, rel=1e-8)
        assert step["natural_step_in_logit_model_mapped_to_p"] == pytest.approx(natural, rel=1e-8)
        jacobian = step["p"] * (1 - step["p"])
        assert step["gradient_step_in_eta_mapped_to_p"] == pytest.approx(
            jacobian**2 * step["gradient_step_in_p"], rel=1e-12
        )


def test_logistic_hessian(out_dir):
    summary = run("logistic_hessian", out_dir)
    for entry in summary.values():
        assert entry["hessian_vs_closed_form"] < 1e-8
        assert entry["gauss_newton_vs_closed_form"] < 1e-8
        assert entry["relative_gap"] < 1e-8
        assert entry["smallest_eigenvalue"] > 0


def test_profile_vs_wald(out_dir):
    summary = run("profile_vs_wald", out_dir)
    slope = summary["coefficients"]["beta[slope]"]
    for entry in summary["coefficients"].values():
        assert entry["profile_vs_statsmodels"] < 1e-6
    # A likelihood flatter away from zero: the profile interval reaches further up.
    assert slope["profile_asymmetry"] > 1.5
    assert slope["largest_end_gap_in_se"] > 0.3
    assert slope["profile"][1] > slope["wald"][1]
    for entry in summary["coverage"].values():
        assert 0.0 <= entry["coverage"] <= 1.0


def test_gauss_newton_collapse(out_dir):
    summary = run("gauss_newton_collapse", out_dir)
    for name in ("start", "final"):
        check = summary[name]
        assert check["hessian_equals_parts"] < 1e-8
        assert check["gauss_newton_vs_closed_form"] < 1e-8
        assert check["residual_vs_closed_form"] < 1e-8
    assert summary["final"]["relative_gap"] < summary["start"]["relative_gap"] / 10
    # At the fit the loss is ½χ²-distributed around the floor: sd √(n/2).
    final_loss = summary["history"][-1]["loss"]
    assert abs(final_loss - summary["noise_floor"]) < 4 * np.sqrt(summary["n"] / 2)


def test_cramer_rao_vs_nuts(out_dir):
    summary = run("cramer_rao_vs_nuts", out_dir)
    np.testing.assert_allclose(summary["bound"], summary["bound_closed_form"], rtol=1e-8)
    n = summary["n"]
    for entry in summary["parameters"].values():
        # Bernstein–von Mises: the posterior is N(θ̂, I(θ̂)⁻¹) up to O(n^-1/2) in sd units,
        # plus the Monte Carlo error of the NUTS summaries.
        sd = entry["posterior_sd"]
        assert abs(entry["z_gap"]) < 4 * entry["posterior_mean_mcse"] / sd + 3 / np.sqrt(n)
        assert abs(entry["sd_ratio"] - 1) < 4 * entry["posterior_sd_mcse"] / sd + 3 / np.sqrt(n)


def test_nested_laplace_eight_schools(out_dir):
    summary = run("nested_laplace_eight_schools", out_dir)
    for name in ("nuts, non-centred", "nuts, centred"):
        entry = summary[name]
        # Both NUTS runs keep an effective sample size above 100 on (μ, τ) in the smoke run, so
        # the mean gap in reference sds has a Monte Carlo sd below √(2/100).
        for var in ("mu", "tau"):
            assert abs(entry["z_gap"][var]) < 4 * np.sqrt(2 / 100), (name, var)
        assert entry["max_abs_inner_check_error"] < 1e-8
    # A Gaussian on (μ, log τ) misses the skew of log τ: τ's spread is far too wide, and k̂
    # (noisy at smoke size) is well above 0.5.
    assert summary["gaussian, non-centred"]["sd_ratio"]["tau"] > 1.3
    assert summary["gaussian_pareto_k"] > 0.5


def test_nested_laplace_frailties(out_dir):
    summary = run("nested_laplace_frailties", out_dir)
    many, few = summary["many counts"], summary["few counts"]
    # Many counts per group: the inner check finds the Laplace marginal's error nearly
    # constant in (α, σ), and the hyperparameters agree with NUTS on the whole model within
    # Monte Carlo error (z_gap_mcse: the sd of the gap from both runs' effective sizes).
    assert many["inner_check_error_spread"] < 0.1
    for var in ("alpha", "sigma"):
        assert abs(many["z_gap"][var]) < 4 * many["z_gap_mcse"][var], var
    frailties = many["frailties"]
    assert frailties["max_abs_z_gap"] < 4 * np.sqrt(2 / frailties["reference_min_ess"])
    # Few counts: the conditionals are the heavy-tailed prior; the inner check warns, and
    # its error changes with (α, σ) by far more than with many counts.
    assert few["inner_warned"]
    assert few["inner_check_error_spread"] > 10 * many["inner_check_error_spread"]
    # ... and σ's posterior is shifted well beyond Monte Carlo error.
    assert abs(few["z_gap"]["sigma"]) > 4 * few["z_gap_mcse"]["sigma"]


def test_nested_laplace_gaussian_process(out_dir):
    summary = run("nested_laplace_gaussian_process", out_dir)
    # A Gaussian prior times a log-concave Poisson likelihood: the inner Laplace is good and
    # NUTS on the Laplace marginal agrees with NUTS on the whole model.
    # The errors are about a tenth of a nat and nearly the same at every φ checked.
    assert not summary["inner_warned"]
    assert np.abs(summary["inner_check_error"]).max() < 0.3
    assert summary["inner_check_error_spread"] < 0.2
    for var in ("eta", "ell", "c"):
        assert abs(summary["z_gap"][var]) < 4 * summary["z_gap_mcse"][var], var
    function = summary["function"]
    assert function["max_abs_z_gap"] < 4 * np.sqrt(2 / function["reference_min_ess"])


def test_nested_laplace_glmm(out_dir):
    summary = run("nested_laplace_glmm", out_dir)
    assert summary["latent_structure"] == "sparse"  # 100 intercepts, a diagonal H_u
    for method in ("gaussian", "nuts"):
        entry = summary[method]
        # Eight binary outcomes a group: the Laplace marginal underestimates the exact one
        # at every checked φ (each group's conditional is skewed) ...
        assert min(entry["inner_check_error"]) > 0
        # ... and still the fixed effects agree with NUTS on the whole model within Monte
        # Carlo error, σ within half a posterior sd (Laplace's known low bias for binary
        # random effects), and every intercept within half a sd.
        for var in ("alpha", "beta"):
            assert abs(entry["z_gap"][var]) < 4 * entry["z_gap_mcse"][var], (method, var)
        assert abs(entry["z_gap"]["sigma"]) < 0.5
        assert entry["intercepts"]["max_abs_z_gap"] < 0.5
        assert 0.8 < entry["intercepts"]["median_sd_ratio"] < 1.2


def test_optimal_design_pk(out_dir):
    summary = run("optimal_design_pk", out_dir)
    approximate = summary["approximate_design"]
    # Certified by the equivalence theorem: max sensitivity = p = 3 at equal weights.
    assert approximate["bound"] == pytest.approx(3.0, rel=1e-9)
    assert approximate["sensitivity_max"] == pytest.approx(3.0, rel=1e-6)
    assert approximate["efficiency_bound"] >= 1 - 1e-6
    np.testing.assert_allclose(approximate["weights"], [1 / 3] * 3, atol=1e-4)
    # The 8-sample schedule replicates the approximate design's support points.
    support = np.array(approximate["support"])
    exact = np.array(summary["exact_design"])
    assert exact.size == 8
    assert np.abs(exact[:, None] - support[None, :]).min(axis=1).max() < 1e-3
    assert summary["log_det_optimal"] > summary["log_det_naive"]
    assert summary["naive_efficiency"] == pytest.approx(
        np.exp((summary["log_det_naive"] - summary["log_det_optimal"]) / 3), rel=1e-12
    )
    # The simulation confirms the bound: smaller generalized variance under the optimal
    # schedule, whose MLE is in its asymptotic regime (variances within 20% of the bound).
    naive, optimal = summary["naive"], summary["optimal"]
    assert optimal["generalized_variance"] < naive["generalized_variance"]
    assert optimal["generalized_variance_bound"] < naive["generalized_variance_bound"]
    np.testing.assert_allclose(optimal["variance"], optimal["bound_variance"], rtol=0.2)


def test_optimal_design_dose_response(out_dir):
    summary = run("optimal_design_dose_response", out_dir)
    approximate = summary["approximate_design"]
    # Dette et al. (2010): 0, ED50·d_max/(2·ED50 + d_max) = 18.75 and d_max, equal weights,
    # certified: max sensitivity = p = 3.
    np.testing.assert_allclose(approximate["support"], summary["closed_form_support"], atol=1e-4)
    np.testing.assert_allclose(approximate["weights"], [1 / 3] * 3, atol=1e-4)
    assert approximate["sensitivity_max"] == pytest.approx(3.0, rel=1e-6)
    assert approximate["efficiency_bound"] >= 1 - 1e-6
    assert summary["optimal_efficiency"] == pytest.approx(1.0, rel=1e-6)
    assert summary["naive_efficiency"] == pytest.approx(
        np.exp((summary["log_det_naive"] - summary["log_det_optimal"]) / 3), rel=1e-6
    )
    assert summary["naive_efficiency"] < 0.9
    # The simulation confirms the bound: the optimal design's MLE has the smaller generalized
    # variance, and its variances are at their Cramér–Rao bound within 4 MCSE.
    naive, optimal = summary["naive"], summary["optimal"]
    assert optimal["generalized_variance"] < naive["generalized_variance"]
    assert optimal["generalized_variance_bound"] < naive["generalized_variance_bound"]
    gap = np.abs(np.array(optimal["variance"]) - np.array(optimal["bound_variance"]))
    np.testing.assert_array_less(gap, 4 * np.array(optimal["variance_mcse"]))


def test_every_case_study_is_tested():
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    laplace_tests = (Path(__file__).parent / "test_laplace_case_studies.py").read_text()
    untested = [
        name for name in CASE_STUDIES if name not in tested and f'"{name}"' not in laplace_tests
    ]
    assert untested == []


def test_unknown_case_study_is_named(tmp_path):
    with pytest.raises(PMFisherError, match="unknown case study nope"):
        run_case_studies(tmp_path, names=["nope"])


def test_a_missing_folder_is_named(tmp_path):
    where = re.escape(f"looked for the case-study scripts in {tmp_path}")
    with pytest.raises(PMFisherError, match=where):
        run_case_studies(tmp_path / "out", names=["kl_curvature"], directory=tmp_path / "none")
    with pytest.raises(PMFisherError, match=r"did not find kl_curvature\.py"):
        run_case_studies(tmp_path / "out", names=["kl_curvature"], directory=tmp_path)


def test_the_command_says_where_it_looked_before_running_anything(tmp_path, capsys):
    assert main(["case-studies", "--dir", str(tmp_path / "none")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"looked for the case-study scripts in {tmp_path / 'none'}" in captured.err


def test_the_command_says_what_runs_and_how_long_it_took(tmp_path, capsys):
    assert main(["case-studies", "--only", "curvature_at_the_peak", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 case study, small scale (--full for full scale)")
    assert lines[1] == (
        "[1/1] curvature_at_the_peak: Curvature at the peak: the exponential log-likelihood "
        "at n = 6 and n = 60."
    )
    assert re.fullmatch(r"\[1/1\] curvature_at_the_peak done in \d+ s", lines[2])
    assert (tmp_path / "curvature_at_the_peak.json").is_file()
