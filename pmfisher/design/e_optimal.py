r"""E-optimal approximate designs, by linear programming, with their certificate.

The E criterion :math:`\lambda_{\min}(M(\xi))` of :math:`M(\xi) = \sum_r w_r I(x_r)` is
concave in the weights but not differentiable where the smallest eigenvalue is repeated —
as it is at many E-optimal designs (the straight line on :math:`[-1, 1]`), so the
sensitivity function of :mod:`pmfisher.design.approximate` does not exist there. It is the
minimum of linear functions of the weights,

.. math::

    \lambda_{\min}(M(\xi)) = \min_{\lVert v \rVert = 1} \sum_r w_r\, v^\top I(x_r)\, v,

so the design is found by Kelley's cutting planes: the linear program
:math:`\max t` subject to :math:`t \le \sum_r w_r v_j^\top I(x_r) v_j` for the directions
:math:`v_j` found so far, :math:`\sum_r w_r = 1`, :math:`w \ge 0` (SciPy's HiGHS), each
round adding the eigenvectors of :math:`M` at its solution, until the program's value (an
upper bound on the optimum) and :math:`\lambda_{\min}` of its design (a lower one) agree.
Cutting planes close the gap slowly where :math:`\lambda_{\min}` is simple, and there it is
differentiable: SLSQP on the support's weights then finishes the search, and the better of
the two certificates is kept.

**Certificate** (Pukelsheim, *Optimal Design of Experiments*, 1993, § 7.21): for every
:math:`E \succeq 0` with :math:`\operatorname{tr} E = 1` and every design :math:`\zeta`,
:math:`\lambda_{\min}(M(\zeta)) \le \operatorname{tr}(M(\zeta) E) \le \max_x
\operatorname{tr}(I(x) E)`. With :math:`E = \sum_j \alpha_j v_j v_j^\top`, :math:`\alpha` the
program's dual solution (a convex combination of the directions, at the optimum of the
minimal eigenvectors), the sensitivity is :math:`s(x) = \operatorname{tr}(I(x) E)` and

.. math::

    \text{eff}(\xi) = \frac{\lambda_{\min}(M(\xi))}{\lambda_{\min}(M(\xi^*))}
    \ge \frac{\lambda_{\min}(M(\xi))}{\max_x s(x)},

equal to 1 exactly when :math:`\xi` is E-optimal (the equivalence theorem for E). Over draws
of the parameters (the average of :math:`\lambda_{\min}`), each draw has its own :math:`E`
and the sensitivity is their average.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from pmfisher.design.design_graph import DesignGraph
from pmfisher.errors import ConvergenceError
from pmfisher.information.symbolic_quadrature import TAIL_MASS

__all__ = ["e_optimal_design"]

# The program stops when its upper bound and its design's criterion agree to this; where
# λ_min is simple, the smooth polish takes the rest of the way.
GAP_TOLERANCE = 1e-6
CUTTING_ROUNDS = 200
# Weights below this, relative to the largest, are not support points.
PRUNED_WEIGHT = 1e-7
# The smooth polish works on the cutting planes' support points above this relative weight.
POLISHED_WEIGHT = 1e-5
# λ_min is taken as simple when the next eigenvalue is this far above it, relative to λ_max.
SIMPLE_GAP = 1e-6


def e_optimal_design(design: DesignGraph, thetas: np.ndarray, candidates: list[np.ndarray]) -> dict:
    """The E-optimal weights over ``candidates`` (one array per container) for every row of
    ``thetas`` (the criterion averaged over rows): the fields of a
    :class:`~pmfisher.design.approximate.Certificate` (``support``, ``weights``, ``value``,
    ``sensitivity`` over the candidates and at the support, ``bound``)."""
    matrices = per_run_information(design, thetas, candidates)  # (S, R, d, d)
    scale = np.trace(matrices.mean(1), axis1=-2, axis2=-1).mean()
    scaled = matrices / scale
    weights, directions, alphas = _cutting_planes(scaled)
    # E_s = Σ_j α_sj v_j v_jᵀ / Σ_j α_sj: the sensitivity tr(I(x) E_s), averaged over draws.
    sensitivity = np.mean(
        [
            alpha @ _quadratic(vs, m) / alpha.sum()
            for alpha, vs, m in zip(alphas, directions, matrices, strict=True)
        ],
        axis=0,
    )
    best = _certificate(candidates, matrices, weights, sensitivity)
    polished = _smooth_polish(candidates, matrices, weights)
    if polished is not None and _efficiency(polished) > _efficiency(best):
        best = polished
    return best


def _cutting_planes(scaled):
    """Kelley's cutting planes until the gap closes: the weights, and per draw the directions
    and their dual weights α."""
    directions = [np.linalg.eigh(matrices.mean(0))[1].T for matrices in scaled]
    cuts = [_quadratic(vs, matrices) for vs, matrices in zip(directions, scaled, strict=True)]
    for _ in range(CUTTING_ROUNDS):
        weights, upper, alphas = _program(cuts)
        lowest, vectors = _minimal(scaled, weights)
        if upper - lowest.mean() <= GAP_TOLERANCE * abs(upper):
            break
        for s, (new, matrices) in enumerate(zip(vectors, scaled, strict=True)):
            directions[s] = np.vstack([directions[s], new])
            cuts[s] = np.vstack([cuts[s], _quadratic(new, matrices)])
    else:  # the last program's directions, with its duals
        directions = [used[: alpha.size] for used, alpha in zip(directions, alphas, strict=True)]
    return weights, directions, alphas


def _smooth_polish(candidates, matrices, weights):
    """Where every draw's smallest eigenvalue is simple, λ_min is differentiable, with
    gradient :math:`v^\\top I_r v`: SLSQP on the support's weights takes the cutting planes'
    slow tail, and :math:`E = v v^\\top`. ``None`` where an eigenvalue is repeated."""
    kept = np.flatnonzero(weights > POLISHED_WEIGHT * weights.max())
    local = matrices[:, kept]

    def negative(w):
        values, gradient = [], []
        for m in local:
            eigenvalues, basis = np.linalg.eigh(np.tensordot(w, m, 1))
            values.append(eigenvalues[0])
            gradient.append(_quadratic(basis[:, :1].T, m)[0])
        return -np.mean(values), -np.mean(gradient, axis=0)

    result = optimize.minimize(
        negative,
        weights[kept] / weights[kept].sum(),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * kept.size,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": np.ones_like}],
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    polished = np.zeros_like(weights)
    polished[kept] = np.clip(result.x, 0.0, None)
    polished /= polished.sum()
    sensitivity = []
    for m in matrices:
        eigenvalues, basis = np.linalg.eigh(np.tensordot(polished, m, 1))
        if eigenvalues[1] - eigenvalues[0] <= SIMPLE_GAP * abs(eigenvalues[-1]):
            return None
        sensitivity.append(_quadratic(basis[:, :1].T, m)[0])
    return _certificate(candidates, matrices, polished, np.mean(sensitivity, axis=0))


def _certificate(candidates, matrices, weights, sensitivity) -> dict:
    kept = weights > PRUNED_WEIGHT * weights.max()
    support_weights = weights[kept] / weights[kept].sum()
    lowest = [np.linalg.eigvalsh(np.tensordot(support_weights, m[kept], 1))[0] for m in matrices]
    value = float(np.mean(lowest))
    return {
        "support": [values[kept] for values in candidates],
        "weights": support_weights,
        "value": value,
        "sensitivity": sensitivity,
        "sensitivity_support": sensitivity[kept],
        "bound": value,
    }


def _efficiency(certificate: dict) -> float:
    return certificate["bound"] / certificate["sensitivity"].max()


def _quadratic(directions, matrices):
    """:math:`v_j^\\top I_r v_j`, ``(J, R)``."""
    return np.einsum("jd,rde,je->jr", directions, matrices, directions)


def per_run_information(design: DesignGraph, thetas, candidates) -> np.ndarray:
    """Every candidate run's information at every row of ``thetas``, ``(S, R, d, d)``."""
    design = design.current()
    function = design.per_run_function()
    matrices = []
    for theta in thetas:
        per_run, tail = function(theta, *candidates)
        if tail > TAIL_MASS:  # a discrete quadrature's support is too short here
            return per_run_information(design.grow(), thetas, candidates)
        matrices.append(per_run)
    return np.array(matrices)


def _program(cuts):
    """The cutting-plane program's weights, value and dual solution (one α per draw), from
    each draw's cuts :math:`v_j^\\top I_r v_j` ``(J, R)``."""
    draws, runs = len(cuts), cuts[0].shape[1]
    rows, counts = [], []
    for s, quadratic in enumerate(cuts):
        # t_s − Σ_r w_r v_jᵀ I_sr v_j ≤ 0
        block = np.zeros((len(quadratic), runs + draws))
        block[:, :runs] = -quadratic
        block[:, runs + s] = 1.0
        rows.append(block)
        counts.append(len(quadratic))
    result = optimize.linprog(
        np.r_[np.zeros(runs), -np.ones(draws) / draws],
        A_ub=sparse.csr_array(np.vstack(rows)),
        b_ub=np.zeros(sum(counts)),
        A_eq=np.r_[np.ones(runs), np.zeros(draws)][None, :],
        b_eq=[1.0],
        bounds=[(0.0, None)] * runs + [(None, None)] * draws,
        method="highs",
    )
    if result.status != 0:
        raise ConvergenceError(f"the E-optimal design's linear program failed: {result.message}")
    duals = -result.ineqlin.marginals
    alphas = np.split(np.maximum(duals, 0.0), np.cumsum(counts)[:-1])
    return np.clip(result.x[:runs], 0.0, None), -result.fun, alphas


def _minimal(scaled, weights):
    """λ_min of each draw's M(w), and the eigenvectors of M(w) to add as cuts."""
    lowest, vectors = [], []
    for matrices in scaled:
        values, basis = np.linalg.eigh(np.tensordot(weights, matrices, 1))
        lowest.append(values[0])
        vectors.append(basis.T)
    return np.array(lowest), vectors
