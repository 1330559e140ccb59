"""The public surface, written out: every name DESIGN.md promises and the signature of every
public function, parameter by parameter (name, keyword-only or not, default). A change to the
public API has to change this file too."""

import inspect

import pmfisher
import pmfisher.plots

#: Public name → its signature, ``*`` marking where the keyword-only options begin.
FUNCTIONS = {
    "observed_information": (
        "point=None, *, model=None, terms='likelihood', space='constrained', latent=None, "
        "structure='auto', progressbar=True"
    ),
    "fisher_information": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "method='auto', replicates=1000, random_seed=None, progressbar=True"
    ),
    "scores": "point=None, *, model=None, space='constrained', progressbar=True",
    "empirical_fisher": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "progressbar=True"
    ),
    "sandwich_covariance": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "progressbar=True"
    ),
    "information_matrix_test": (
        "point=None, *, model=None, latent=None, structure='auto', progressbar=True"
    ),
    "find_mode": (
        "*, model=None, terms='posterior', space='unconstrained', start=None, latent=None, "
        "structure='auto', random_seed=None, progressbar=True"
    ),
    "laplace": (
        "*, model=None, draws=4000, terms='posterior', space='unconstrained', latent=None, "
        "hyper='gaussian', nodes='auto', conditional='mean_corrected', importance_sampling=None, "
        "not_positive_definite='raise', structure='auto', random_seed=None, chains=2, tune=1000, "
        "progressbar=True"
    ),
    "delta_method": "result, *, var_names=None, model=None, progressbar=True",
    "compare": "approx, reference, *, var_names=None",
    "bayes_factors": "results, *, prior_probabilities=None",
    "cramer_rao_bound": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "method='auto', replicates=1000, random_seed=None, progressbar=True"
    ),
    "simulate_estimator": (
        "point=None, *, model=None, replicates=500, executor=None, random_seed=None, "
        "chunk_size=50, progressbar=True"
    ),
    "check_tensor_law": (
        "point=None, *, model=None, reparameterized=None, mapping=None, information='expected',"
        " latent=None, structure='auto', progressbar=True"
    ),
    "natural_gradient": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "method='auto', replicates=1000, random_seed=None, progressbar=True"
    ),
    "gauss_newton": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "progressbar=True"
    ),
    "kl_curvature": (
        "point=None, *, model=None, space='constrained', latent=None, structure='auto', "
        "progressbar=True"
    ),
    "kl_divergence": "point, other, *, model=None, progressbar=True",
    "summary": (
        "point=None, *, model=None, terms='likelihood', latent=None, information='observed', "
        "ci='wald', level=0.95, var_names=None, structure='auto', random_seed=None, "
        "progressbar=True"
    ),
    "design_criterion": (
        "design, *, model=None, point, criterion='D', parameters=None, information='auto', "
        "latent=None, replicates=200, random_seed=None, progressbar=True"
    ),
    "optimal_design": (
        "*, model=None, design, point, criterion='D', runs=None, parameters=None, "
        "random_seed=None, latent=None, replicates=200, progressbar=True"
    ),
}
CLASSES = {
    "ApproximateDesign",
    "DesignCriterion",
    "ExactDesign",
    "FisherInformation",
    "InformationMatrixTest",
    "Mode",
    "EstimatorStudy",
    "TensorLawCheck",
    "GaussNewtonSplit",
    "Summary",
    "PMFisherError",
    "PointError",
    "ArgumentError",
    "ConvergenceError",
    "NotFiniteError",
    "UnsupportedModelError",
    "NotPositiveDefiniteError",
    "InsufficientMemoryError",
}
PLOTS = {
    "khat_threshold": "draws",
    "plot_design": "result, *, efficiencies=None, path=None",
    "plot_forest": (
        "approx, reference, *, var_names=None, coords=None, "
        "names=('approximation', 'reference'), path=None"
    ),
    "plot_group_comparison": (
        "approx, reference, *, var_names, names=('approximation', 'reference'), path=None"
    ),
    "plot_information": "matrix, *, view='information', path=None",
    "plot_khat": "approximations, *, path=None",
    "plot_marginals": (
        "approx, reference, *, var_names=None, coords=None, "
        "names=('approximation', 'reference'), path=None"
    ),
    "plot_profile": "result, *, var_names=None, path=None",
    "plot_pair_ellipses": (
        "approx, reference, *, var_names=None, coords=None, probs=(0.5, 0.95), path=None"
    ),
    "save_laplace_figures": (
        "approx, reference, out_dir, prefix, *, label='Laplace', marginal_vars=None, "
        "marginal_coords=None, forest_vars=None, pair_vars=None, pair_coords=None"
    ),
}


def written(function) -> str:
    """A signature as this file writes it: names, defaults and the ``*``, no annotations."""
    parts, keyword_only = [], False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            parts.append("*")
            keyword_only = True
        default = "" if parameter.default is parameter.empty else f"={parameter.default!r}"
        parts.append(f"{parameter.name}{default}")
    return ", ".join(parts)


def test_public_names_are_the_written_list():
    assert set(pmfisher.__all__) == set(FUNCTIONS) | CLASSES
    assert set(pmfisher.plots.__all__) == set(PLOTS)


def test_signatures_are_the_written_ones():
    for name, signature in FUNCTIONS.items():
        assert written(getattr(pmfisher, name)) == signature, name
    for name, signature in PLOTS.items():
        assert written(getattr(pmfisher.plots, name)) == signature, name


def test_classes_are_classes_and_errors_are_value_errors():
    for name in CLASSES:
        assert inspect.isclass(getattr(pmfisher, name)), name
    for name in ("PMFisherError", "PointError", "UnsupportedModelError"):
        assert issubclass(getattr(pmfisher, name), ValueError)
    for name in CLASSES:
        if name.endswith("Error") and name != "PMFisherError":
            assert issubclass(getattr(pmfisher, name), pmfisher.PMFisherError), name


def test_plots_is_a_submodule():
    assert inspect.ismodule(pmfisher.plots)
