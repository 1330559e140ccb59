r"""Optimal population designs over candidate elementary designs, with their certificate.

An elementary design is one setting of the model's containers — the sampling times of one
subject (or of the group of subjects the model describes). A population design puts the
share :math:`w_c` of the subjects on candidate :math:`c`; subjects being independent, its
information per subject is :math:`M(w) = \sum_c w_c M_c`, with :math:`M_c` the population
information of candidate :math:`c` (:mod:`pmfisher.design.population`, the same simulated
random numbers for every candidate, so that candidates are compared without the noise of
independent draws). The search is the multiplicative algorithm and an SLSQP polish of the
weights on the exact gradient :math:`\partial\Psi/\partial w_c = \langle \partial\Psi/
\partial M, M_c\rangle`, which is also the sensitivity of the General Equivalence Theorem:
the design is optimal over the candidates exactly when :math:`\max_c s_c` equals the bound
:math:`b = \sum_c w_c s_c` (:math:`p` for D), and its efficiency is at least :math:`b /
\max_c s_c` otherwise (:mod:`pmfisher.design.approximate`). The certificate holds for the
Monte Carlo estimate :math:`M_c` of each candidate's information.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from pmfisher.design.approximate import Certificate
from pmfisher.design.evaluation import CriterionSpec
from pmfisher.design.population import population_criterion
from pmfisher.errors import ArgumentError

__all__ = ["population_design"]

MULTIPLICATIVE_STEPS = 5000
MULTIPLICATIVE_TOLERANCE = 1e-6
# Weights below this, relative to the largest, leave the support: SLSQP stopped by its
# iteration limit leaves weights of about 1e-6 on points off the optimum's support (a
# straight line's D-optimal shares on 9 candidates), and the polish would then lose to
# the multiplicative weights it started from.
PRUNED_WEIGHT = 1e-4


def population_design(
    spec: CriterionSpec, matrices: np.ndarray, labels, candidates: list[np.ndarray]
) -> Certificate:
    """The optimal weights over the candidates' information ``matrices`` (``(C, d, d)``);
    ``candidates`` holds one array per container, the candidates along the first axis."""
    if spec.criterion == "E":
        raise ArgumentError(
            "criterion='E' has no sensitivity function where the smallest eigenvalue is "
            "repeated; use criterion='D', 'A', 'Ds' or 'c' for a population design."
        )
    count = matrices.shape[0]

    def value_and_sensitivity(weights):
        value, gradient = population_criterion(
            spec, np.tensordot(weights, matrices, axes=1), labels
        )
        return value, spec.sign * np.einsum("ij,cij->c", gradient, matrices)

    delta = 1.0 if spec.criterion in {"D", "Ds"} else 0.5
    weights = np.full(count, 1.0 / count)
    for _ in range(MULTIPLICATIVE_STEPS):
        _, sensitivity = value_and_sensitivity(weights)
        bound = float(weights @ sensitivity)
        if sensitivity.max() <= bound * (1 + MULTIPLICATIVE_TOLERANCE):
            break
        weights = weights * np.maximum(sensitivity / bound, 0.0) ** delta
        weights /= weights.sum()
    scale = abs(value_and_sensitivity(weights)[0]) or 1.0

    def objective(w):
        value, sensitivity = value_and_sensitivity(np.clip(w, 0.0, None))
        return -spec.sign * value / scale, -sensitivity / scale

    result = optimize.minimize(
        objective,
        weights,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * count,
        constraints=[
            {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(count)}
        ],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    polished = np.clip(result.x, 0.0, None)
    polished[polished < PRUNED_WEIGHT * polished.max()] = 0.0
    polished /= polished.sum()
    if (
        value_and_sensitivity(polished)[0] * spec.sign
        < value_and_sensitivity(weights)[0] * spec.sign
    ):
        polished = weights  # the polish only ever improves on the multiplicative weights
    value, sensitivity = value_and_sensitivity(polished)
    kept = polished > 0
    return Certificate(
        support=[values[kept] for values in candidates],
        weights=polished[kept],
        value=value,
        sensitivity=sensitivity,
        sensitivity_support=sensitivity[kept],
        bound=float(polished @ sensitivity),
    )
