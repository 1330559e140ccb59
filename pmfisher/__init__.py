"""pmfisher: the curvature objects of likelihood theory for any PyMC model.

Observed information, expected (Fisher) information, empirical Fisher and sandwich
covariances, Laplace and Cramér–Rao approximations — from exact derivatives of the model's
own PyTensor log-probability graph.
"""

from pmfisher.errors import (
    NotPositiveDefiniteError,
    PMFisherError,
    PointError,
    UnsupportedModelError,
)
from pmfisher.mode import Mode, find_mode
from pmfisher.observed import observed_information

__all__ = [
    "Mode",
    "NotPositiveDefiniteError",
    "PMFisherError",
    "PointError",
    "UnsupportedModelError",
    "find_mode",
    "observed_information",
]
__version__ = "0.1.0"
