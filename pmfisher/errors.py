"""Exceptions raised by pmfisher.

Every error is a :class:`ValueError` subclass so that callers who only know the standard
library can still catch it, and every message names the variable (or option) at fault and
the reason, so that it can be acted on without reading a traceback.
"""

__all__ = [
    "InsufficientMemoryError",
    "NotPositiveDefiniteError",
    "PMFisherError",
    "PointError",
    "UnsupportedModelError",
]


class PMFisherError(ValueError):
    """Base class of every error pmfisher raises on purpose."""


class UnsupportedModelError(PMFisherError):
    """The model has a feature that the requested computation cannot handle."""


class InsufficientMemoryError(PMFisherError):
    """An intermediate would not fit in the memory available, and no other route exists."""


class PointError(PMFisherError):
    """A parameter point is incomplete, mis-shaped or outside the model's support."""


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
