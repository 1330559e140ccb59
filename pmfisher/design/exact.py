r"""Exact designs: the best :math:`n` runs in a box, by L-BFGS-B on the exact gradient.

The design values of all runs are optimized jointly, the criterion of the whole data set's
information :math:`M(x_1, \dots, x_n)` with its gradient from autodiff, from several starts
(one spread evenly over the box, the others uniform at random); runs may coincide
(replicates). The best start's design is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from pmfisher.design.design_graph import DesignGraph
from pmfisher.design.evaluation import CriterionSpec, evaluate
from pmfisher.errors import ConvergenceError, NotPositiveDefiniteError

__all__ = ["ExactSolution", "exact_design"]

STARTS = 8


@dataclass(frozen=True)
class ExactSolution:
    support: list[np.ndarray]
    value: float
    starts: int


def exact_design(
    design: DesignGraph,
    spec: CriterionSpec,
    thetas: np.ndarray,
    box: list[tuple[float, float]],
    runs: int,
    rng: np.random.Generator,
) -> ExactSolution:
    """The best design of ``runs`` runs in ``box`` (one ``(low, high)`` per container)."""
    columns = len(box)
    low = np.repeat([b[0] for b in box], runs)
    high = np.repeat([b[1] for b in box], runs)

    def split(z):
        return [z[j * runs : (j + 1) * runs] for j in range(columns)]

    def objective(z):
        try:
            evaluation = evaluate(design, "total", spec, thetas, split(z))
        except NotPositiveDefiniteError:
            return np.inf, np.zeros_like(z)
        gradient = np.concatenate([evaluation.gradients[name] for name in design.names])
        return -spec.sign * evaluation.value, -spec.sign * gradient

    spread = np.concatenate([np.linspace(b[0], b[1], runs) for b in box])
    starts = [spread] + [rng.uniform(low, high) for _ in range(STARTS - 1)]
    best = None
    for start in starts:
        if not np.isfinite(objective(start)[0]):
            continue
        result = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(low, high, strict=True)),
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ConvergenceError(
            f"no start gave a design of {runs} runs whose information is positive definite: "
            "more runs are needed than the box allows to determine the parameters."
        )
    order = np.lexsort(split(best.x)[::-1])
    return ExactSolution(
        support=[values[order] for values in split(best.x)],
        value=float(-spec.sign * best.fun),
        starts=len(starts),
    )
