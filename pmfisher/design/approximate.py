r"""Approximate (continuous) optimal designs and their equivalence-theorem certificate.

An approximate design :math:`\xi` puts weight :math:`w_r` on run :math:`x_r`; its
information is :math:`M(\xi) = \sum_r w_r I(x_r)`. For a criterion :math:`\Psi` (log det for
D) the sensitivity of a candidate run :math:`x` is the derivative of the criterion towards
it, :math:`s(x, \xi) = \pm\partial\Psi(M(\xi))/\partial w_x` (the sign making larger
better), which autodiff gives exactly, and :math:`\sum_r w_r s(x_r, \xi) = b` is the
criterion's constant: :math:`p` for D (``p`` parameters), :math:`s` for Ds, :math:`\operatorname{tr}
M^{-1}` for A, :math:`c^\top M^{-1} c` for c. The **General Equivalence Theorem** (Kiefer
and Wolfowitz 1960; Atwood 1969) says :math:`\xi` is optimal exactly when
:math:`\max_x s(x, \xi) = b`, and otherwise bounds its efficiency:

.. math::

    \text{eff}(\xi) \ge b / \max_x s(x, \xi)

(for D, :math:`(\det M(\xi)/\det M(\xi^*))^{1/p} \ge p / \max_x d(x, \xi)`; the same
argument on the average over draws gives the bound for a Bayesian (ED) criterion).

The search: the multiplicative algorithm (Silvey, Titterington and Torsney 1978),
:math:`w_r \leftarrow w_r (s_r/b)^{\delta}`, over the candidates finds the support; its
weights — and in a box the support points themselves, off the grid — are then polished by
SLSQP on the exact gradients, and any candidate whose sensitivity still exceeds the bound is
added back (a vertex-direction step, Fedorov 1972; Wynn 1970) until none does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from pmfisher.design.design_graph import DesignGraph
from pmfisher.design.e_optimal import e_optimal_design
from pmfisher.design.evaluation import CriterionSpec, evaluate

__all__ = ["Certificate", "approximate_design"]

# The multiplicative algorithm stops when the largest sensitivity is this close to its bound;
# the polish takes it the rest of the way.
MULTIPLICATIVE_TOLERANCE = 1e-3
MULTIPLICATIVE_STEPS = 3000
# Weights below this, relative to the largest, leave the support after the multiplicative
# phase (they tend to zero geometrically there) and after the polish.
PRUNED_WEIGHT = 1e-4
# The certificate's tolerance on max s / b − 1, and how many vertex-direction rounds to take.
CERTIFICATE_TOLERANCE = 1e-7
ROUNDS = 25


@dataclass(frozen=True)
class Certificate:
    """A design with its equivalence-theorem certificate, on flat arrays."""

    support: list[np.ndarray]
    weights: np.ndarray
    value: float
    sensitivity: np.ndarray
    sensitivity_support: np.ndarray
    bound: float

    @property
    def sensitivity_max(self) -> float:
        return float(max(self.sensitivity.max(), self.sensitivity_support.max()))

    @property
    def efficiency_bound(self) -> float:
        return float(min(1.0, self.bound / self.sensitivity_max))


def approximate_design(
    design: DesignGraph,
    spec: CriterionSpec,
    thetas: np.ndarray,
    candidates: list[np.ndarray],
    box: list[tuple[float, float]] | None,
) -> Certificate:
    """The optimal approximate design over ``candidates`` (one array per container, equal
    lengths); with ``box`` the support may move off the candidates within it."""
    if spec.criterion == "E":  # not differentiable: a linear program, on the candidates
        return Certificate(**e_optimal_design(design, thetas, candidates))
    delta = 1.0 if spec.criterion in {"D", "Ds"} else 0.5
    count = candidates[0].size
    weights = np.full(count, 1.0 / count)
    for _ in range(MULTIPLICATIVE_STEPS):
        sensitivity = _sensitivity(design, spec, thetas, candidates, weights)
        bound = float(weights @ sensitivity)
        if sensitivity.max() <= bound * (1 + MULTIPLICATIVE_TOLERANCE):
            break
        weights = weights * np.maximum(sensitivity / bound, 0.0) ** delta
        weights /= weights.sum()
    kept = weights >= PRUNED_WEIGHT * weights.max()
    support = [values[kept] for values in candidates]
    weights = weights[kept] / weights[kept].sum()
    if box is not None:
        support, weights = _merge(support, weights, box, spacing=_spacing(candidates, box))
    for _ in range(ROUNDS):
        support, weights = _polish(design, spec, thetas, support, weights, box)
        certificate = _certify(design, spec, thetas, support, weights, candidates)
        worst = int(np.argmax(certificate.sensitivity))
        if certificate.sensitivity[worst] <= certificate.bound * (1 + CERTIFICATE_TOLERANCE):
            break
        # A vertex-direction step: the candidate most worth adding joins the support.
        support = [
            np.append(values, column[worst])
            for values, column in zip(support, candidates, strict=True)
        ]
        weights = np.append(weights, 0.0)
    order = np.lexsort(certificate.support[::-1])
    return Certificate(
        support=[values[order] for values in certificate.support],
        weights=certificate.weights[order],
        value=certificate.value,
        sensitivity=certificate.sensitivity,
        sensitivity_support=certificate.sensitivity_support[order],
        bound=certificate.bound,
    )


def _sensitivity(design, spec, thetas, values, weights) -> np.ndarray:
    evaluation = evaluate(design, "weighted", spec, thetas, values, weights)
    return spec.sign * evaluation.gradients["weights"]


def _spacing(candidates, box) -> np.ndarray:
    """The grid's step along each container (for merging neighbouring support points)."""
    return np.array(
        [
            np.diff(np.unique(values)).min(initial=high - low) if values.size > 1 else high - low
            for values, (low, high) in zip(candidates, box, strict=True)
        ]
    )


def _merge(support, weights, box, *, spacing):
    """Neighbouring support points (within 2.5 grid steps in every container) become one,
    at their weighted mean, carrying their summed weight."""
    points = np.column_stack(support)
    order = np.argsort(-weights)
    merged_points, merged_weights, taken = [], [], np.zeros(weights.size, dtype=bool)
    for index in order:
        if taken[index]:
            continue
        near = np.all(np.abs(points - points[index]) <= 2.5 * spacing, axis=1) & ~taken
        taken |= near
        merged_weights.append(weights[near].sum())
        merged_points.append(weights[near] @ points[near] / weights[near].sum())
    merged_points = np.clip(np.array(merged_points), [b[0] for b in box], [b[1] for b in box])
    return [merged_points[:, j] for j in range(points.shape[1])], np.array(merged_weights)


def _polish(design, spec, thetas, support, weights, box):
    """SLSQP on the weights (and, in a box, the support points) with exact gradients."""
    count, columns = weights.size, len(support)
    movable = box is not None
    scale = abs(evaluate(design, "weighted", spec, thetas, support, weights).value) or 1.0

    def unpack(z):
        w = z[:count]
        points = [z[count + j * count : count + (j + 1) * count] for j in range(columns)]
        return (points if movable else support), w

    def objective(z):
        points, w = unpack(z)
        evaluation = evaluate(design, "weighted", spec, thetas, points, w)
        gradient = [evaluation.gradients["weights"]]
        if movable:
            gradient += [evaluation.gradients[name] for name in design.names]
        return -spec.sign * evaluation.value / scale, -spec.sign * np.concatenate(gradient) / scale

    start = np.concatenate([weights, *support]) if movable else weights.copy()
    bounds = [(0.0, 1.0)] * count
    if movable:
        bounds += [box[j] for j in range(columns) for _ in range(count)]
    result = optimize.minimize(
        objective,
        start,
        jac=True,
        method="SLSQP",
        bounds=bounds,
        constraints=[
            {
                "type": "eq",
                "fun": lambda z: z[:count].sum() - 1.0,
                "jac": lambda z: np.r_[np.ones(count), np.zeros(z.size - count)],
            }
        ],
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    points, w = unpack(result.x)
    w = np.clip(w, 0.0, None)
    kept = w > PRUNED_WEIGHT * w.max()
    points, w = [p[kept] for p in points], w[kept] / w[kept].sum()
    if movable:
        points, w = _merge(
            points, w, box, spacing=1e-6 * np.array([high - low for low, high in box])
        )
    return points, w


def _certify(design, spec, thetas, support, weights, candidates) -> Certificate:
    """The sensitivity at the support and every candidate, in one evaluation."""
    values = [np.concatenate([s, c]) for s, c in zip(support, candidates, strict=True)]
    padded = np.concatenate([weights, np.zeros(candidates[0].size)])
    evaluation = evaluate(design, "weighted", spec, thetas, values, padded)
    sensitivity = spec.sign * evaluation.gradients["weights"]
    return Certificate(
        support=support,
        weights=weights,
        value=evaluation.value,
        sensitivity=sensitivity[weights.size :],
        sensitivity_support=sensitivity[: weights.size],
        bound=float(weights @ sensitivity[: weights.size]),
    )
