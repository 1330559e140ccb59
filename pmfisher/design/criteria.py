r"""Optimality criteria of an information matrix :math:`M`, as PyTensor graphs.

============  ===========================================================  ===========
criterion     value                                                        goal
============  ===========================================================  ===========
``"D"``       :math:`\log\det M`                                           maximize
``"A"``       :math:`\operatorname{tr} M^{-1}`                             minimize
``"E"``       :math:`\lambda_{\min}(M)`                                    maximize
``"Ds"``      :math:`\log\det M - \log\det M_{nn}` (:math:`= -\log\det       maximize
              (M^{-1})_{ss}`, the information about the parameters ``s``
              with the others, ``n``, nuisance)
``"c"``       :math:`c^\top M^{-1} c` (the asymptotic variance of
              :math:`c^\top\hat\theta`, or of a deterministic
              :math:`g(\hat\theta)` with :math:`c = \nabla g`)                minimize
============  ===========================================================  ===========

Each is a graph of :math:`M`, so PyTensor differentiates it through :math:`M` to the design.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from pmfisher._core.options import Criterion

__all__ = ["MAXIMIZED", "criterion_graph"]


#: The criteria whose larger values are better; the others are variances, smaller is better.
MAXIMIZED = frozenset({"D", "E", "Ds"})


def _log_det(matrix):
    # A matrix that is not positive definite gives NaN, which the caller turns into an error
    # naming the parameters on its null directions.
    factor = pt.linalg.cholesky(matrix, on_error="nan")
    return 2 * pt.log(pt.diag(factor)).sum()


def criterion_graph(
    matrix, criterion: Criterion, *, nuisance: np.ndarray | None = None, contrast=None
):
    """The scalar graph of ``criterion`` at the information ``matrix`` (``(d, d)``).

    ``nuisance`` holds the positions of the nuisance parameters for ``"Ds"``; ``contrast`` is
    the vector :math:`c` (a graph) for ``"c"``.
    """
    if criterion == "D":
        return _log_det(matrix)
    if criterion == "A":
        return pt.trace(pt.linalg.inv(matrix))
    if criterion == "E":
        return pt.linalg.eigvalsh(matrix, pt.eye(matrix.shape[0]))[0]
    if criterion == "Ds":
        if nuisance is None or len(nuisance) == 0:
            return _log_det(matrix)
        kept = pt.as_tensor(np.asarray(nuisance, dtype="int64"))
        return _log_det(matrix) - _log_det(matrix[kept][:, kept])
    return pt.dot(contrast, pt.linalg.solve(matrix, contrast, assume_a="sym"))
