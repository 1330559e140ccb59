"""Exceptions raised by pmfisher.

Every error is a :class:`ValueError` subclass so that callers who only know the standard
library can still catch it, and every message names the variable (or option) at fault and
the reason, so that it can be acted on without reading a traceback. Each kind of failure
has its own class, so that a caller can catch what it can handle (a search that did not
converge, a model pmfisher cannot take) and let the rest through; every raise uses the most
specific one.
"""

import warnings
from pathlib import Path

__all__ = [
    "ArgumentError",
    "ConvergenceError",
    "InsufficientMemoryError",
    "NotFiniteError",
    "NotPositiveDefiniteError",
    "PMFisherError",
    "PointError",
    "UnsupportedModelError",
]


# Warnings are attributed to the first frame outside this package: the user's call, however
# deep in pmfisher the warning is raised (and whatever wraps the public function).
_PACKAGE = str(Path(__file__).resolve().parent)


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning that points at the user's line that called pmfisher."""
    warnings.warn(message, category, skip_file_prefixes=(_PACKAGE,))


class PMFisherError(ValueError):
    """Base class of every error pmfisher raises on purpose."""


class UnsupportedModelError(PMFisherError):
    """The model has a feature that the requested computation cannot handle."""


class InsufficientMemoryError(PMFisherError):
    """An intermediate would not fit in the memory available, and no other route exists."""


class PointError(PMFisherError):
    """A parameter point is incomplete, mis-shaped or outside the model's support, or a
    ``Mode`` of another density than the call's."""


class ArgumentError(PMFisherError):
    """An argument the call cannot use: an option's value or a combination of options, a
    result or a model file passed in, a count too small for what it must estimate."""


class ConvergenceError(PMFisherError):
    """A search did not converge: no mode of the density was found (it may not exist), or
    too few of many fits converged to summarize."""


class NotFiniteError(PMFisherError):
    """A quantity that must be finite is not at the point asked for (a Hessian, a score, a
    log-density at draws): the density is not smooth or not bounded there."""


class NotPositiveDefiniteError(PMFisherError):
    """A matrix that must be positive definite is not.

    Attributes
    ----------
    eigenvalues : numpy.ndarray
        The smallest eigenvalues, in ascending order.
    loadings : dict[str, float]
        For the smallest eigenvalue, the parameters with the largest absolute weight in its
        eigenvector (label → weight).
    """

    def __init__(self, message, *, eigenvalues, loadings):
        super().__init__(message)
        self.eigenvalues = eigenvalues
        self.loadings = loadings
