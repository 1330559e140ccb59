"""pmfisher: the curvature objects of likelihood theory for any PyMC model.

Observed information, expected (Fisher) information, empirical Fisher and sandwich
covariances, Laplace and Cramér–Rao approximations — from exact derivatives of the model's
own PyTensor log-probability graph. Plots live in :mod:`pmfisher.plots`.
"""

from pmfisher._core.duck_arrays import defer_duck_array_imports
from pmfisher.approximation.bayes_factors import bayes_factors
from pmfisher.approximation.compare import compare
from pmfisher.approximation.delta import delta_method
from pmfisher.approximation.laplace import laplace
from pmfisher.design.criterion import DesignCriterion, design_criterion
from pmfisher.design.optimal import ApproximateDesign, ExactDesign, optimal_design
from pmfisher.errors import (
    ArgumentError,
    ConvergenceError,
    InsufficientMemoryError,
    NotFiniteError,
    NotPositiveDefiniteError,
    PMFisherError,
    PointError,
    UnsupportedModelError,
)
from pmfisher.fitting.mode import Mode, find_mode
from pmfisher.frequentist.cramer_rao import EstimatorStudy, cramer_rao_bound, simulate_estimator
from pmfisher.geometry.gauss_newton import GaussNewtonSplit, gauss_newton
from pmfisher.geometry.kl import kl_curvature, kl_divergence
from pmfisher.geometry.natural_gradient import natural_gradient
from pmfisher.geometry.tensor_law import TensorLawCheck, check_tensor_law
from pmfisher.inference.summary import Summary, summary
from pmfisher.information.fisher import FisherInformation, fisher_information
from pmfisher.information.misspecification import InformationMatrixTest, information_matrix_test
from pmfisher.information.observed import observed_information
from pmfisher.information.sandwich import sandwich_covariance
from pmfisher.information.scores import empirical_fisher, scores

# Before any result is built: xarray then wraps NumPy arrays without importing dask first.
defer_duck_array_imports()

__all__ = [
    "ApproximateDesign",
    "ArgumentError",
    "ConvergenceError",
    "DesignCriterion",
    "EstimatorStudy",
    "ExactDesign",
    "FisherInformation",
    "GaussNewtonSplit",
    "InformationMatrixTest",
    "InsufficientMemoryError",
    "Mode",
    "NotFiniteError",
    "NotPositiveDefiniteError",
    "PMFisherError",
    "PointError",
    "Summary",
    "TensorLawCheck",
    "UnsupportedModelError",
    "bayes_factors",
    "check_tensor_law",
    "compare",
    "cramer_rao_bound",
    "delta_method",
    "design_criterion",
    "empirical_fisher",
    "find_mode",
    "fisher_information",
    "gauss_newton",
    "information_matrix_test",
    "kl_curvature",
    "kl_divergence",
    "laplace",
    "natural_gradient",
    "observed_information",
    "optimal_design",
    "sandwich_covariance",
    "scores",
    "simulate_estimator",
    "summary",
]
__version__ = "0.1.0"
