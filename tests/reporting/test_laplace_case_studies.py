"""Smoke tests of the Laplace vs NUTS case studies: each runs in its fast mode, writes its
figures and summary, and its summary tells the story its docstring tells."""

import importlib.util
import json
from pathlib import Path

import pytest

CASE_STUDIES = Path(__file__).resolve().parents[2] / "case_studies"
FIGURES = {
    "marginals.png",
    "forest.png",
    "pair_ellipses.png",
    "precision.png",
    "correlation.png",
    "khat.png",
}


def _smoke(name, tmp_path_factory, extra_figures=()):
    spec = importlib.util.spec_from_file_location(name, CASE_STUDIES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp(name)
    summary = module.main(out, smoke=True)
    expected = {f"{name}_{figure}" for figure in FIGURES | set(extra_figures)}
    assert {path.name for path in out.glob("*.png")} == expected
    assert json.loads((out / f"{name}.json").read_text()) == summary
    assert summary["smoke"] is True
    return summary


@pytest.fixture(scope="module")
def run_case(tmp_path_factory):
    return lambda name, *extra: _smoke(name, tmp_path_factory, extra)


def test_logistic_regression_laplace_is_good(run_case):
    summary = run_case("laplace_logistic_regression")
    assert summary["pareto_k"] < 0.5
    assert summary["max_abs_z_gap"] < 0.25
    assert 0.85 < summary["min_sd_ratio"] <= summary["max_sd_ratio"] < 1.15
    assert summary["nuts_divergences"] == 0


def test_eight_schools_laplace_fails_and_khat_says_so(run_case):
    summary = run_case("laplace_eight_schools")
    # Centred: no posterior mode at all.
    assert summary["centred_laplace"].startswith("no mode of the posterior was found")
    assert "tau_log__" in summary["centred_laplace"]
    # Non-centred: k̂ flags the Gaussian before any comparison, and NUTS confirms it.
    assert summary["pareto_k"] > 0.7
    assert summary["khat_warned"]
    assert summary["z_gap"]["tau"] > 3  # Laplace's τ is many NUTS sds too large
    assert summary["sd_ratio"]["tau"] > 3
    assert summary["joint_coverage"]["0.5"] < 0.25  # NUTS mass misses the Laplace core


def test_hierarchical_model_with_enough_data_laplace_is_good(run_case):
    summary = run_case("laplace_hierarchical_data")
    assert summary["sparse_laplace"].startswith("no mode of the posterior was found")
    assert summary["pareto_k"] < 0.5
    group_gaps = [abs(v) for k, v in summary["z_gap"].items() if k.startswith("theta[")]
    assert max(group_gaps) < 0.25
    assert summary["max_abs_z_gap"] < 0.6  # τ and σ: the joint mode's O(1/J) shrinkage
    group_ratios = [v for k, v in summary["sd_ratio"].items() if k.startswith("theta[")]
    assert 0.85 < min(group_ratios) <= max(group_ratios) < 1.15
    # τ's sd from 600 smoke-mode NUTS draws is itself uncertain by several percent.
    assert 0.7 < summary["min_sd_ratio"] <= summary["max_sd_ratio"] < 1.3


def test_real_data_laplace_is_close_but_not_exact(run_case):
    summary = run_case("laplace_real_data")
    assert 0.3 < summary["pareto_k"] < 1.0
    assert 0.1 < summary["max_abs_z_gap"] < 0.8
    assert summary["max_sd_ratio"] < 1.0  # the Gaussian is too narrow for every coefficient


def test_many_groups_margins_agree_on_the_sparse_route(run_case):
    summary = run_case("laplace_many_groups", "group_effects.png")
    assert summary["structure"] == "sparse"  # picked by structure="auto"
    assert summary["parameters"] == summary["groups"] + 3
    assert summary["nuts_divergences"] == 0
    for name in ("theta", "rate"):
        groups = summary["group_effects"][name]
        assert groups["elements"] == summary["groups"]
        # 600 NUTS draws: each gap carries Monte Carlo noise of about 0.06 reference sds,
        # each sd ratio about 5%; these are the extremes over 150 groups.
        assert groups["max_abs_z_gap"] < 0.45
        assert groups["mean_abs_z_gap"] < 0.15
        assert 0.75 < groups["min_sd_ratio"] <= groups["max_sd_ratio"] < 1.25
        assert 0.93 < groups["median_sd_ratio"] < 1.07
    assert abs(summary["z_gap"]["mu"]) < 0.5
    assert abs(summary["z_gap"]["beta"]) < 0.5
    assert summary["z_gap"]["tau"] < -0.4  # the joint mode shrinks the scale
    assert 0.85 < summary["min_sd_ratio"] <= summary["max_sd_ratio"] < 1.15
