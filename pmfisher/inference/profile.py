r"""Profile-likelihood intervals (MASS's ``confint.glm``, lme4's
``confint(method="profile")``, TMB's ``tmbprofile``).

For one parameter :math:`\theta_k` held at :math:`b`, the others are re-maximized,
:math:`\ell_p(b) = \max_{\theta_{-k}} \ell(b, \theta_{-k})`, and the signed root deviance

.. math::

    r(b) = \operatorname{sign}(b - \hat\theta_k)\,\sqrt{2\,\big(\ell(\hat\theta) -
    \ell_p(b)\big)}

is compared with the normal quantile: the interval is
:math:`\{b : |r(b)| \le \Phi^{-1}((1 + \text{level})/2)\}`. :math:`r` is invariant to
monotone reparameterization, so the profile is walked in the parameter's unconstrained
coordinate (``log σ``), where the optimizer cannot step out of the support and a variance
that tends to 0 is a coordinate that tends to :math:`-\infty`; the profile is reported in the
constrained space. Each re-maximization (trust-region Newton on the exact gradient and
Hessian of the other coordinates) is warm-started at the previous point of the profile; the
ends are found by Brent's method between the two profile points that bracket them.

With latent variables, :math:`\ell` is the Laplace marginal :math:`L(\varphi)`
(:mod:`pmfisher.fitting.laplace_marginal`), profiled over :math:`\varphi`.

When :math:`|r|` stays below the quantile as the coordinate runs towards the edge of the
support (a variance component whose likelihood stays flat down to 0), the interval's end is
the boundary itself, and it is marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr
from pymc.distributions import transforms
from pytensor.graph.traversal import ancestors
from scipy import optimize

from pmfisher.errors import UnsupportedModelError
from pmfisher.inference.wald import covariance_from_information

__all__ = ["ProfileEnds", "Profiler", "require_profilable"]

# Steps along the profile from the estimate to where |r| reaches the quantile, were the
# log-likelihood quadratic; further steps double in length while |r| grows slowly.
STEPS_TO_QUANTILE = 6
MAX_STEPS = 60
# An unconstrained coordinate beyond this magnitude is at the edge of the support (as in
# find_mode: exp(15) ≈ 3e6 times the unit).
EDGE = 15.0
# An untransformed coordinate this many standard errors away with |r| still below the
# quantile: the profile never reaches it, the interval is open on that side.
UNBOUNDED = 1e6
# The root of r(b) = ±quantile to this absolute accuracy in the unconstrained coordinate.
ROOT_TOLERANCE = 1e-10
INNER_GRADIENT_TOLERANCE = 1e-10
ACCEPTED_GRADIENT = 1e-6
# Elementwise, increasing transforms: the profile in the unconstrained coordinate is the
# profile in the constrained one, point by point.
ELEMENTWISE = (transforms.LogTransform, transforms.LogOddsTransform, transforms.IntervalTransform)


@dataclass(frozen=True)
class ProfileEnds:
    """One parameter's profile: its points (``values`` in the constrained space, sorted, and
    ``signed_root_deviance``), the interval's ``lower`` and ``upper`` ends, whether each end
    is the edge of the support (``lower_at_boundary``, ``upper_at_boundary``; there, the
    end is the edge's value) and ``reason`` when a re-maximization failed (``""`` if none)."""

    values: np.ndarray
    signed_root_deviance: np.ndarray
    lower: float
    upper: float
    lower_at_boundary: bool
    upper_at_boundary: bool
    reason: str = ""

    def dataset(self, label: str) -> xr.Dataset:
        """The profile as a labelled Dataset over ``step`` (the interval's ends in attrs)."""
        return xr.Dataset(
            {
                "value": ("step", self.values),
                "signed_root_deviance": ("step", self.signed_root_deviance),
            },
            attrs={
                "param": label,
                "lower": self.lower,
                "upper": self.upper,
                "lower_at_boundary": int(self.lower_at_boundary),
                "upper_at_boundary": int(self.upper_at_boundary),
                "reason": self.reason,
            },
        )


class Profiler:
    r"""Profiles of a density over its unconstrained coordinates.

    ``density`` offers ``logp_and_grad_fn`` and ``hessian_fn`` over a flat ``x`` (a model
    graph in the unconstrained space without the log-Jacobian, or a Laplace marginal over
    :math:`\varphi`); ``graph`` is the model graph whose ``to_constrained_fn`` maps a full
    flat vector ``full`` (the estimate) to the constrained space, ``positions`` where each
    coordinate of ``x`` sits in it; ``x`` the estimate; ``transformed`` whether each
    coordinate is a transformed one (its edge of the support lies at infinity).
    """

    def __init__(self, density, graph, full: np.ndarray, positions, x: np.ndarray, transformed):
        self.density = density
        self.transformed = np.asarray(transformed, dtype=bool)
        self.graph = graph
        self.full = np.asarray(full, dtype="float64")
        self.positions = np.asarray(positions)
        self.x = np.asarray(x, dtype="float64")
        logp, _ = density.logp_and_grad_fn(self.x)
        self.logp = float(logp)
        hessian = np.asarray(density.hessian_fn(self.x), dtype="float64")
        covariance = covariance_from_information(-hessian, density.labels)
        self.scales = np.sqrt(np.abs(np.diag(covariance.matrix)))

    def profile(self, k: int, quantile: float, entry: tuple[str, int]) -> ProfileEnds:
        """The profile of coordinate ``k`` (``entry``: its variable's name and flat index in
        the constrained space) out to ``|r| = quantile`` on both sides, and the interval's
        ends."""
        step = self.scales[k] * quantile / STEPS_TO_QUANTILE
        if not np.isfinite(step) or step <= 0:
            step = 0.1 * max(1.0, abs(self.x[k]))
        points = {self.x[k]: (0.0, np.delete(self.x, k))}
        ends, boundaries, reasons = [], [], []
        for direction in (-1.0, 1.0):
            end, at_boundary, reason = self._walk(k, direction, step, quantile, points)
            ends.append(end)
            boundaries.append(at_boundary)
            reasons.append(reason)
        ordered = sorted(points)
        deviance = np.array([points[t][0] for t in ordered])
        values = self._constrained(k, np.array(ordered), entry)
        lower, upper = (float(self._constrained(k, np.array([end]), entry)[0]) for end in ends)
        reason = " ".join(filter(None, reasons))
        return ProfileEnds(values, deviance, lower, upper, boundaries[0], boundaries[1], reason)

    def _walk(self, k, direction, step, quantile, points) -> tuple[float, bool, str]:
        """Walk from the estimate in ``direction`` until |r| passes ``quantile``; the root in
        the unconstrained coordinate, whether it is the edge, and a failure reason or ``""``."""
        target = direction * quantile
        inside, others = self.x[k], np.delete(self.x, k)
        for _ in range(MAX_STEPS):
            t = inside + direction * step
            edge = EDGE if self.transformed[k] else UNBOUNDED * max(1.0, self.scales[k])
            if abs(t - self.x[k]) > edge:
                return direction * np.inf, True, ""
            found = self._maximize(k, t, others)
            if found is None:
                return np.nan, False, self._failure(k, t)
            r, others_at_t = found
            points[t] = (r, others_at_t)
            if direction * r >= quantile:
                root = self._root(k, inside, t, target, points)
                return root, False, "" if np.isfinite(root) else self._failure(k, t)
            # Slow growth of |r| (a flat profile towards a boundary): longer steps.
            if direction * (r - points[inside][0]) < 0.1 * quantile:
                step *= 2.0
            inside, others = t, others_at_t
        return (
            np.nan,
            False,
            (
                f"the profile of {self.density.labels[k]} did not reach the quantile within "
                f"{MAX_STEPS} steps."
            ),
        )

    def _root(self, k, inside, outside, target, points) -> float:
        """The root of :math:`r = ` ``target`` between two profile points; only the root
        joins the profile (Brent's trial points are warm starts)."""
        trials = dict(points)

        def gap(t):
            nearest = min(trials, key=lambda known: abs(known - t))
            found = self._maximize(k, t, trials[nearest][1])
            if found is None:
                raise _InnerFailure(self._failure(k, t))
            trials[t] = found
            return found[0] - target

        try:
            root = optimize.brentq(gap, inside, outside, xtol=ROOT_TOLERANCE)
        except _InnerFailure:
            return np.nan
        nearest = min(trials, key=lambda known: abs(known - root))
        points[root] = (
            trials[nearest] if nearest == root else self._maximize(k, root, trials[nearest][1])
        )
        return root

    def _maximize(self, k, t, start) -> tuple[float, np.ndarray] | None:
        """:math:`r` at coordinate ``k`` held at ``t`` and the maximizing other coordinates,
        or ``None`` if the maximization fails."""

        def full(others):
            return np.insert(others, k, t)

        def objective(others):
            logp, grad = self.density.logp_and_grad_fn(full(others))
            return -float(logp), -np.delete(np.asarray(grad), k)

        def hessian(others):
            matrix = np.asarray(self.density.hessian_fn(full(others)))
            return -np.delete(np.delete(matrix, k, axis=0), k, axis=1)

        if start.size:
            try:
                result = optimize.minimize(
                    objective,
                    start,
                    jac=True,
                    hess=hessian,
                    method="trust-exact",
                    options={"gtol": INNER_GRADIENT_TOLERANCE},
                )
            except (ValueError, np.linalg.LinAlgError):  # a non-finite Hessian far out
                return None
            # trust-exact stops short of gtol when rounding hides the last improvement; a
            # gradient this small moves the log-likelihood by ~|g|²/λ, far below what r needs.
            resolved = np.linalg.norm(result.jac) <= ACCEPTED_GRADIENT * max(1.0, abs(result.fun))
            if not np.isfinite(result.fun) or not (result.success or resolved):
                return None
            logp, others = -float(result.fun), result.x
        else:
            logp, others = float(self.density.logp_and_grad_fn(full(start))[0]), start
        if not np.isfinite(logp):
            return None
        deviance = max(0.0, 2.0 * (self.logp - logp))
        return float(np.sign(t - self.x[k]) * np.sqrt(deviance)), others

    def _constrained(self, k, ts: np.ndarray, entry: tuple[str, int]) -> np.ndarray:
        """Coordinate ``k``'s unconstrained values ``ts`` in the constrained space (an
        infinite one is the edge of the support: of a transformed coordinate, its finite
        value there)."""
        name, index = entry
        values = []
        for t in ts:
            if np.isnan(t) or (np.isinf(t) and not self.transformed[k]):
                values.append(t)
                continue
            full = self.full.copy()
            full[self.positions[k]] = np.clip(t, -1e3, 1e3)
            values.append(np.ravel(self.graph.constrained_point(full)[name])[index])
        return np.asarray(values, dtype="float64")

    def _failure(self, k, t) -> str:
        return (
            f"re-maximizing the others with {self.density.labels[k]} held at {t:.6g} "
            "(unconstrained) failed; that end of its interval is missing."
        )


class _InnerFailure(Exception):
    pass


def require_profilable(model: pm.Model, names) -> None:
    """An ``UnsupportedModelError`` for a variable whose transform couples its entries (a
    simplex, an ordered vector, a Cholesky factor) or has bounds that are themselves
    parameters: its profile is not one coordinate's."""
    free = set(model.free_RVs)
    for rv in model.free_RVs:
        if rv.name not in names:
            continue
        transform = model.rvs_to_transforms.get(rv)
        if transform is None:
            continue
        elementwise = isinstance(transform, ELEMENTWISE) or type(transform).__name__ == "LogExpM1"
        variable_bounds = isinstance(transform, transforms.IntervalTransform) and bool(
            free & set(ancestors(rv.owner.inputs))
        )
        if not elementwise or variable_bounds:
            reason = (
                "its bounds are parameters of the model"
                if variable_bounds
                else f"its transform ({type(transform).__name__}) couples its entries"
            )
            raise UnsupportedModelError(
                f"profile intervals for {rv.name}: {reason}, so one entry cannot be held "
                "fixed while the others are re-maximized. Use ci='wald' for it."
            )
