"""The public surface is exactly what DESIGN.md promises."""

import inspect

import pmfisher
import pmfisher.plots

DESIGNED = {
    "observed_information",
    "fisher_information",
    "FisherInformation",
    "scores",
    "empirical_fisher",
    "sandwich_covariance",
    "information_matrix_test",
    "InformationMatrixTest",
    "find_mode",
    "Mode",
    "laplace",
    "delta_method",
    "compare",
    "cramer_rao_bound",
    "simulate_estimator",
    "EstimatorStudy",
    "check_tensor_law",
    "TensorLawCheck",
    "natural_gradient",
    "gauss_newton",
    "GaussNewtonSplit",
    "kl_curvature",
    "kl_divergence",
    "PMFisherError",
    "PointError",
    "UnsupportedModelError",
    "NotPositiveDefiniteError",
}


def test_public_names():
    assert set(pmfisher.__all__) == DESIGNED
    for name in pmfisher.__all__:
        assert hasattr(pmfisher, name)


def test_options_are_keyword_only():
    for name in pmfisher.__all__:
        function = getattr(pmfisher, name)
        if not inspect.isfunction(function):
            continue
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name in {"model", "space", "terms", "method", "random_seed"}:
                assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (name, parameter.name)


def test_plots_is_a_submodule():
    assert inspect.ismodule(pmfisher.plots)
