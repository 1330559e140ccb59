"""Finite-difference references for checking pmfisher's exact derivative engines.

These are slow and approximate by design: they exist only so that tests can check every
exact engine against an independent computation in float64.
"""

import numpy as np

__all__ = ["finite_difference_hessian", "finite_difference_jacobian"]


def finite_difference_jacobian(function, x, *, step: float = 1e-3) -> np.ndarray:
    r"""Jacobian of a vector function by Richardson-refined central differences.

    With :math:`D(h) = [f(x + h e_j) - f(x - h e_j)] / 2h`, the refined column is
    :math:`[4 D(h/2) - D(h)] / 3`, whose error is :math:`O(h^4)` instead of :math:`O(h^2)`.
    ``step`` is scaled by :math:`\max(1, |x_j|)`.

    Examples
    --------
    >>> import numpy as np
    >>> J = finite_difference_jacobian(lambda x: np.array([x[0] * x[1], np.sin(x[1])]), [2.0, 0.5])
    >>> np.allclose(J, [[0.5, 2.0], [0.0, np.cos(0.5)]], atol=1e-10)
    True
    """
    x = np.asarray(x, dtype="float64")
    columns = []
    for j in range(x.size):
        h = step * max(1.0, abs(x[j]))

        def central(h, j=j):
            e = np.zeros_like(x)
            e[j] = h
            return (np.asarray(function(x + e)) - np.asarray(function(x - e))) / (2 * h)

        columns.append((4 * central(h / 2) - central(h)) / 3)
    return np.stack(columns, axis=-1)


def finite_difference_hessian(gradient, x, *, step: float = 1e-3) -> np.ndarray:
    """Hessian as the symmetrized finite-difference Jacobian of an exact ``gradient``."""
    matrix = finite_difference_jacobian(gradient, x, step=step)
    return 0.5 * (matrix + matrix.T)
