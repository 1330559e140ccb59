"""Why a stationary point that a mode search reached is no interior mode: the density's
supremum lies at the edge of the support (a variance component at 0, a probability at 0 or
1) or at infinity along a ray (a logistic regression with perfect separation), or its
gradient does not vanish there. :func:`~pmfisher.find_mode` restarts on either, and says
which."""

from __future__ import annotations

import numpy as np

from pmfisher.fitting.newton_search import GRADIENT_TOLERANCE

__all__ = ["EDGE_PROBE", "EDGE_STEP", "RUNAWAY", "edge_of_support", "unbounded_ray"]

# An unconstrained coordinate beyond this magnitude (exp(15) ≈ 3e6) has run off to infinity.
RUNAWAY = 15.0
# Beyond this magnitude (exp(5) ≈ 150) a stationary point is probed EDGE_STEP farther out:
# where the density is no lower there, its supremum is at the edge of the support.
EDGE_PROBE = 5.0
EDGE_STEP = 10.0


def edge_of_support(
    objective, x_unconstrained, target, point, grad: np.ndarray, logp: float
) -> tuple[str, tuple[str, ...]]:
    """Why a stationary point of the search is not an interior mode of the target, or ``""``:
    coordinates of the search space ran off to infinity (the supremum is approached at the
    edge of the support), or the target's gradient does not vanish there.

    Coordinates that drifted far along a direction the density does not depend on (a
    saturated latent-state likelihood does not contain the process's own parameters) are
    not a boundary: moving them back to the origin leaves the log-density unchanged, and
    the flat-direction check of :func:`find_mode` reports them instead."""
    here = float(objective.logp_fn(x_unconstrained))
    tolerance = GRADIENT_TOLERANCE * max(1.0, abs(here))

    def toward_the_edge(index: int, value: float) -> bool:
        """Far out, and the density no lower farther out: the supremum is at the edge (a
        variance component at 0, where its gradient vanishes as well)."""
        if abs(value) > RUNAWAY:
            return True
        if abs(value) <= EDGE_PROBE:
            return False
        farther = x_unconstrained.copy()
        farther[index] += EDGE_STEP * np.sign(value)
        return float(objective.logp_fn(farther)) >= here - tolerance

    runaway, at_edge, indices = [], [], []
    for block, rv in zip(objective.blocks, objective.free_rvs, strict=True):
        values = x_unconstrained[block.start : block.stop]
        transformed = objective.model.rvs_to_transforms.get(rv) is not None
        off = [
            (block.start + offset, label)
            for offset, (label, value) in enumerate(zip(block.labels, values, strict=True))
            if transformed and toward_the_edge(block.start + offset, value)
        ]
        if off:
            indices += [index for index, _ in off]
            runaway += [label for _, label in off]
            at_edge.append(f"{rv.name} = {np.array2string(point[rv.name], precision=4)}")
    grad_norm = float(np.linalg.norm(grad))
    steep = grad_norm > GRADIENT_TOLERANCE * max(1.0, abs(logp))
    if runaway and not steep:
        pulled_back = x_unconstrained.copy()
        pulled_back[indices] = 0.0
        if abs(here - float(objective.logp_fn(pulled_back))) <= tolerance:
            runaway = []
    if not runaway and not steep:
        return "", ()
    if runaway:
        where = f"at {', '.join(at_edge)} ({', '.join(runaway)} ran off towards the edge), "
        names = tuple(entry.split(" = ")[0] for entry in at_edge)
    else:
        steepest = [
            i
            for i in np.argsort(-np.abs(grad))[: min(3, grad.size)]
            if abs(grad[i]) > 0.1 * np.abs(grad).max()
        ]
        flat = target.flatten(point)
        where = "at " + ", ".join(f"{target.labels[i]} = {flat[i]:.4g}" for i in steepest) + ", "
        names = tuple(
            block.rv_name
            for block in target.blocks
            if any(block.start <= i < block.stop for i in steepest)
        )
    message = (
        "The maximum lies on the boundary of the support, not in its interior: "
        f"{where}the gradient norm in the {target.space} space is {grad_norm:.3g}. The density "
        "keeps increasing towards the edge, so the curvature there is not that of a mode and "
        "asymptotic normal approximations do not apply."
    )
    return message, names


def unbounded_ray(objective, start, x_unconstrained, target) -> tuple[str, tuple[str, ...]]:
    """Why a stationary point far from the origin is no mode, or ``""``: the density is no
    lower as far again along the way the search came, so its supremum lies at infinity along
    that ray — a logistic regression with perfect separation, whose log-likelihood tends to 0
    as its coefficients grow along the separating direction while its gradient vanishes
    (statsmodels reports ``PerfectSeparationWarning`` there).

    Only coordinates without a transform are probed (the transformed ones are
    :func:`edge_of_support`'s) and only beyond ``EDGE_PROBE``; at an interior maximum the density
    is strictly lower at :math:`\\hat x + (\\hat x - x_0)`."""
    untransformed = np.zeros(x_unconstrained.size, dtype=bool)
    for block, rv in zip(objective.blocks, objective.free_rvs, strict=True):
        untransformed[block.start : block.stop] = objective.model.rvs_to_transforms.get(rv) is None
    travelled = np.where(untransformed, x_unconstrained - start, 0.0)
    if not np.any(np.abs(x_unconstrained[untransformed]) > EDGE_PROBE):
        return "", ()
    here = float(objective.logp_fn(x_unconstrained))
    farther = float(objective.logp_fn(x_unconstrained + travelled))
    if not farther >= here - GRADIENT_TOLERANCE * max(1.0, abs(here)):
        return "", ()
    moved = np.abs(travelled) > 0.1 * np.abs(travelled).max()
    names = tuple(
        block.rv_name for block in objective.blocks if moved[block.start : block.stop].any()
    )
    growing = ", ".join(
        f"{label} = {value:.4g}"
        for label, value, flag in zip(objective.labels, x_unconstrained, moved, strict=True)
        if flag
    )
    message = (
        f"The log-{objective.terms} has no finite maximum: it is no lower twice as far along "
        f"the way the search came ({growing}, growing without bound), as in a logistic "
        "regression with perfect separation (a linear combination of the covariates predicts "
        "every outcome). The standard errors at this point are meaningless; drop or combine "
        "the separating covariates, or add a prior (terms='posterior')."
    )
    return message, names
