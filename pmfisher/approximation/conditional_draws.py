r"""Draws of the latent variables from their conditional Gaussians, one per draw of
:math:`\varphi`, and the joint log-density over draws.

For each draw :math:`\varphi_s`, :math:`u_s \sim \mathcal N(\hat u_{\varphi_s},
H(\varphi_s)^{-1})` needs the conditional mode :math:`\hat u_{\varphi_s}` and the factor of
:math:`H` there (:mod:`pmfisher.fitting.laplace_marginal`). Each inner Newton solve starts
from the first-order prediction :math:`\hat u_{\hat\varphi} + (\partial\hat u/\partial
\varphi)(\varphi_s - \hat\varphi)`, with :math:`\partial\hat u/\partial\varphi =
H^{-1}\nabla^2_{u\varphi} f` at the mode :math:`\hat\varphi` (the implicit function theorem),
so it ends within a few steps.

**A diagonal latent Hessian** (independent group effects given :math:`\varphi`, as in a
hierarchical model) makes every Newton step elementwise: :math:`u \leftarrow u + g / h` with
:math:`g = \nabla_u f` and :math:`h = -\operatorname{diag}\nabla^2_{uu} f`, the latter
being :math:`-\nabla^2_{uu} f\,\mathbf 1` exactly. Then all draws iterate in lockstep, the
same damped Newton iteration, tolerances and final full step as the single solve, with one
compiled call of :math:`(f, g, h)` per row and iteration and no sparse Hessian or CHOLMOD
factor. On the hierarchical model of ``benchmarks/nested_laplace.py`` at J = 2,000 (load
6) that call takes 0.5 ms a row, the single solve's curvature (sparse Hessian, gradient)
4.1 ms an iteration, and the same graph vectorized over rows 2.0–2.5 ms a row (the batched
scatter in its gradient has no C implementation). A row whose Hessian is not positive
definite or whose line search stalls is solved alone by
:meth:`~pmfisher.fitting.laplace_marginal.LaplaceMarginal.conditional_mode`, which explains
a failure. Other structures solve draw by draw.

**A diagonal Hessian and a Gaussian conditional** (a hierarchical normal model) need no
iteration: one compiled call of :math:`(f, g, h)` at :math:`\hat u_{\hat\varphi}` per draw
gives :math:`\hat u_\varphi = u + g/h` and :math:`h`, and the draw replaces its row of
standard normals in place, so that no other array of draws × latent entries is made (each
is 160 MB at 1,000 draws of 20,000 groups: the lockstep iteration's copies, gradients,
curvatures and steps took 1.3 s of 2.8 there).

**The mean correction** (``conditional="mean_corrected"``,
:mod:`pmfisher.fitting.conditional_mean`). The Gaussian's mean is moved from the mode to
the conditional mean to first order, :math:`u_s = \hat u_{\varphi_s} + \delta_{\varphi_s}
+ L^{-\top}\varepsilon_s` with :math:`\delta = -\tfrac12 H^{-1}\nabla_u\log\det H` at
:math:`\hat u` (for a diagonal :math:`H`, one more compiled call a solved row). :math:`\log
q` is the density of that shifted Gaussian at its own draw, :math:`\log\mathcal
N(\varepsilon_s; 0, I) + \tfrac12\log\det H`, unchanged in form, and :math:`f` is
evaluated at the shifted draw, so :math:`f - \log q` are still the importance ratios of the
approximation drawn from. Where the conditional is Gaussian :math:`\delta = 0` and nothing
is computed.
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from pymc.backends.arviz import find_observations
from pytensor.graph import vectorize_graph

from pmfisher._core.compiled.compilation import compile_derived
from pmfisher._core.options import Conditional, check_option
from pmfisher.fitting.conditional_mean import add_diagonal_mean_shifts, conditional_mean_shift
from pmfisher.fitting.laplace_marginal import (
    INNER_DECREMENT_TOLERANCE,
    INNER_MAX_ITER,
    INNER_ROUNDING_STEP,
    INNER_STEP_TOLERANCE,
    RUNAWAY,
    InnerModeError,
    LaplaceMarginal,
)
from pmfisher.fitting.latent.diagonal_latent import DiagonalLatent
from pmfisher.fitting.latent.latent_split import LatentSplit

__all__ = ["JointOverDraws", "conditional_draws", "gaussian_log_density"]

# Elements (rows × data or latent entries) of one chunk of a graph vectorized over draws.
JOINT_CHUNK_ELEMENTS = 2**23
# Beyond this many elements a row, the joint density is computed one call per row. Measured
# on the hierarchical normal model (one BLAS thread): vectorized over rows it costs about
# 16 ns an observation and row (its batched indexing is slow), one call per row 5 ns an
# observation plus 30 µs a call; J = 2,000 groups × 10 rows: 0.33 against 0.11 ms a row,
# J = 100: 0.018 against 0.035.
PER_ROW_FROM_ELEMENTS = 2_500
# Halvings of a Newton step before a row's line search has stalled.
LINE_SEARCH_HALVINGS = 40


def conditional_draws(
    marginal: LaplaceMarginal, phis, phi_mode, u_mode, rng, *, conditional: Conditional
):
    """One draw of :math:`u \\sim \\mathcal N(\\hat u_\\varphi + \\delta_\\varphi,
    H(\\varphi)^{-1})` per row of ``phis``, its normalized log-density, and the joint
    log-density :math:`f(u, \\varphi)` there (module docstring); :math:`\\delta = 0` for
    ``conditional="gaussian"``.

    Where the conditional is Gaussian (``split.conditional_is_gaussian``), :math:`f` is
    quadratic in :math:`u`, so at :math:`u = \\hat u + L^{-\\top}\\varepsilon` it is
    :math:`f(\\hat u) - \\tfrac12\\varepsilon^\\top\\varepsilon` exactly, from the solve's own
    :math:`f(\\hat u)`; otherwise it is evaluated (:class:`JointOverDraws`: 1,000 draws at
    J = 20,000 groups took 1.1 s)."""
    split = marginal.split
    check_option("conditional", conditional, Conditional)
    # δ = 0 exactly where the conditional is Gaussian, and f(û) − ½ε'ε stays exact.
    shifted = conditional == "mean_corrected" and not split.conditional_is_gaussian
    standard = rng.standard_normal((phis.shape[0], split.n_u))
    # ε'ε before ``standard`` may be overwritten by the draws it makes.
    squares = np.einsum("sd,sd->s", standard, standard)
    log_determinants, at_modes = np.empty(phis.shape[0]), np.empty(phis.shape[0])
    diagonal = isinstance(marginal.structured, DiagonalLatent)
    if diagonal and split.conditional_is_gaussian:
        draws = standard  # overwritten row by row, each ε read before its draw replaces it
        solved = _gaussian_diagonal_draws(split, phis, u_mode, draws, log_determinants, at_modes)
    elif diagonal:
        modes, curvatures, solved, at_modes = split.companion(_DiagonalNewton)(
            _predicted_modes(marginal, phis, phi_mode, u_mode), phis
        )
        with np.errstate(all="ignore"):  # rows not solved hold no values: redone below
            # In place: at 1,000 draws of 20,000 entries each array is 160 MB.
            log_determinants = np.log(curvatures).sum(axis=1)
            root = np.sqrt(curvatures, out=curvatures)
            draws = np.divide(standard, root)
            draws += modes
        if shifted:
            add_diagonal_mean_shifts(split, draws, modes, phis, np.flatnonzero(solved))
    else:
        solved = np.zeros(phis.shape[0], dtype=bool)
        draws = np.empty_like(standard)
    unsolved = np.flatnonzero(~solved)
    starts = (
        _predicted_modes(marginal, phis[unsolved], phi_mode, u_mode)
        if unsolved.size
        else np.empty((0, split.n_u))
    )
    for s, start in zip(unsolved, starts, strict=True):
        try:
            inner = marginal.conditional_mode(phis[s], start=start)
        except InnerModeError:  # the prediction may lie where f is not finite
            inner = marginal.conditional_mode(phis[s], start=u_mode)
        draws[s] = inner.u + inner.precision.deviations(standard[s : s + 1])[0]
        if shifted:
            draws[s] += conditional_mean_shift(marginal, inner, phis[s])
        log_determinants[s], at_modes[s] = inner.precision.log_determinant, inner.logp
    log_q = -0.5 * squares - 0.5 * split.n_u * np.log(2 * np.pi) + 0.5 * log_determinants
    if split.conditional_is_gaussian:
        log_p = at_modes - 0.5 * squares
    else:
        log_p = split.companion(JointOverDraws)(draws, phis)
    return draws, log_q, log_p


def _predicted_modes(marginal: LaplaceMarginal, phis, phi_mode, u_mode) -> np.ndarray:
    r"""The first-order prediction of :math:`\hat u` at each row of ``phis`` (module
    docstring): where each inner solve starts."""
    sensitivity = marginal.sensitivity(marginal.conditional_mode(phi_mode), phi_mode)
    return u_mode + (phis - phi_mode) @ sensitivity.T


def _gaussian_diagonal_draws(
    split: LatentSplit, phis, u_mode, draws, log_determinants, at_modes
) -> np.ndarray:
    r"""For a diagonal :math:`H` and a Gaussian conditional: row by row, one compiled call
    of :math:`(f, g, h)` at :math:`\hat u_{\hat\varphi}`, whose Newton step lands on
    :math:`\hat u_\varphi = u + g/h` (:math:`f` is quadratic in :math:`u`, :math:`h` the
    same everywhere) with :math:`f(\hat u) = f(u) + \tfrac12 g^\top h^{-1} g`; then the draw
    :math:`\hat u + \varepsilon/\sqrt h` replaces the row's standard normal
    :math:`\varepsilon` in ``draws``, :math:`\log\det H = \sum\log h` and
    :math:`f(\hat u)` are written into ``log_determinants`` and ``at_modes``. No array of
    draws × entries other than ``draws`` itself (160 MB at 1,000 draws of 20,000 groups).
    Which rows were solved: the others (``h`` not positive and finite, ``f`` not finite)
    are left for the single solve, which explains the failure."""
    function = split.companion(DiagonalLatent).curvature_fn
    solved = np.zeros(phis.shape[0], dtype=bool)
    with np.errstate(all="ignore"):
        for row, phi in enumerate(phis):
            logp, gradient, curvature = function(u_mode, phi)
            step = gradient / curvature
            at_mode = float(logp) + 0.5 * float(gradient @ step)
            draw = draws[row] / np.sqrt(curvature)
            draw += step
            draw += u_mode
            solved[row] = (
                np.isfinite(at_mode)
                and curvature.min() > 0
                and np.isfinite(curvature.max())
                and np.isfinite(draw.max())
            )
            if solved[row]:  # else the row keeps its ε for the single solve
                draws[row] = draw
                log_determinants[row], at_modes[row] = np.log(curvature).sum(), at_mode
    return solved


def _elements_per_row(split: LatentSplit) -> int:
    """About the intermediates of one row of the joint density: its data or latent entries."""
    observed = sum(int(np.size(value)) for value in find_observations(split.graph.model).values())
    return max(split.n_u, observed, 1)


class _DiagonalNewton:
    """Conditional modes of many rows of :math:`\varphi` at once for a diagonal :math:`H`."""

    def __init__(self, split: LatentSplit):
        self.split = split

    @functools.cached_property
    def function(self):
        """``(u, φ) → f, ∇_u f, -∇²_uu f 1``."""
        return self.split.companion(DiagonalLatent).curvature_fn

    def __call__(self, starts: np.ndarray, phis: np.ndarray):
        """The modes (rows), the diagonals of :math:`H` there, which rows were solved (the
        others' entries hold no values), and :math:`f` at the modes."""
        with np.errstate(all="ignore"):
            return self._solve(starts, phis)

    def _evaluate(self, us, phis):
        logp, gradient, curvature = np.empty(us.shape[0]), np.empty_like(us), np.empty_like(us)
        for row, (u, phi) in enumerate(zip(us, phis, strict=True)):
            logp[row], gradient[row], curvature[row] = self.function(u, phi)
        return logp, gradient, curvature

    def _solve(self, u: np.ndarray, phis: np.ndarray):
        """Damped Newton on every row, as ``conditional_mode`` does on one."""
        u = np.array(u, dtype="float64")
        modes, curvatures = np.empty_like(u), np.empty_like(u)
        solved = np.zeros(u.shape[0], dtype=bool)
        at_modes = np.empty(u.shape[0])
        active = np.arange(u.shape[0])
        logp, gradient, curvature = self._evaluate(u, phis)
        for _ in range(INNER_MAX_ITER + 1):
            # Every h positive and finite (a NaN fails both comparisons), without a temporary.
            usable = (
                np.isfinite(logp) & (curvature.min(axis=1) > 0) & np.isfinite(curvature.max(axis=1))
            )
            step = gradient / curvature
            decrement = np.einsum("su,su->s", gradient, step)
            quadratic = usable & (
                decrement <= INNER_DECREMENT_TOLERANCE * np.maximum(1, np.abs(logp))
            )
            largest, scale = np.abs(step).max(axis=1), np.maximum(1, np.abs(u).max(axis=1))
            small = largest <= INNER_STEP_TOLERANCE * scale
            # A step that is rounding: the row is at its mode already (as in the single solve).
            rounding = quadratic & (largest <= INNER_ROUNDING_STEP * scale)
            modes[active[rounding]], curvatures[active[rounding]] = u[rounding], curvature[rounding]
            solved[active[rounding]], at_modes[active[rounding]] = True, logp[rounding]
            done = quadratic & small & ~rounding
            if done.any():
                # One more full step, as the single solve takes, and the curvature there.
                final = u[done] + step[done]
                last, _, at_final = self._evaluate(final, phis[done])
                kept = np.isfinite(last) & np.all((at_final > 0) & np.isfinite(at_final), axis=1)
                rows = active[done][kept]
                modes[rows], curvatures[rows], solved[rows] = final[kept], at_final[kept], True
                at_modes[rows] = last[kept]
            damped, full = usable & ~quadratic, quadratic & ~small
            moved = full.copy()
            u[full] += step[full]
            if full.any():
                logp[full], gradient[full], curvature[full] = self._evaluate(u[full], phis[full])
            if damped.any():
                # The line search's accepted points come with their evaluations.
                at = (logp[damped], gradient[damped], curvature[damped])
                moved[damped], u[damped], at = self._line_search(
                    u[damped], step[damped], decrement[damped], at, phis[damped]
                )
                logp[damped], gradient[damped], curvature[damped] = at
            keep = moved & (np.abs(u).max(axis=1) <= RUNAWAY)
            if not keep.any():
                break
            u, phis, active = u[keep], phis[keep], active[keep]
            logp, gradient, curvature = logp[keep], gradient[keep], curvature[keep]
        return modes, curvatures, solved, at_modes

    def _line_search(self, u, step, decrement, at, phis):
        """Backtracking (Armijo) along each row's Newton step: which rows moved uphill, where
        they are, and ``(f, ∇_u f, h)`` there (``at``: the same at the rows' start, arrays
        the search overwrites)."""
        logp = at[0].copy()
        moved = np.zeros(u.shape[0], dtype=bool)
        pending = np.arange(u.shape[0])
        for halving in range(LINE_SEARCH_HALVINGS):
            t = 0.5**halving
            candidate = u[pending] + t * step[pending]
            new = self._evaluate(candidate, phis[pending])
            accepted = np.isfinite(new[0]) & (
                new[0] >= logp[pending] + 1e-4 * t * decrement[pending]
            )
            rows = pending[accepted]
            moved[rows] = new[0][accepted] > logp[rows]
            u[rows] = candidate[accepted]
            for values, evaluated in zip(at, new, strict=True):
                values[rows] = evaluated[accepted]
            pending = pending[~accepted]
            if not pending.size:
                break
        return moved, u, at


def gaussian_log_density(standard: np.ndarray, log_determinant) -> np.ndarray:
    """:math:`\\log\\mathcal N` at ``x = m + L^{-\\top} z`` for a precision :math:`A = LL^\\top`
    with :math:`\\log\\det A` = ``log_determinant`` (a scalar, or one per row)."""
    return (
        -0.5 * np.einsum("sd,sd->s", standard, standard)
        - 0.5 * standard.shape[1] * np.log(2 * np.pi)
        + 0.5 * log_determinant
    )


class JointOverDraws:
    """:math:`f(u_s, \\varphi_s)` for rows of draws: for a small model in one compiled call
    per chunk of rows, for a large one in one call per row (``PER_ROW_FROM_ELEMENTS``)."""

    def __init__(self, split: LatentSplit):
        self.split = split
        self.elements = _elements_per_row(split)

    @functools.cached_property
    def function(self):
        split = self.split
        us = pt.matrix("us", dtype="float64")
        phis = pt.matrix("phis", dtype="float64")
        return compile_derived(
            [us, phis],
            [split.logp],
            lambda: vectorize_graph(split.logp, replace={split.u: us, split.phi: phis}),
            recipe="joint log-density over draws",
            replaced=[split.u, split.phi],
        )

    @functools.cached_property
    def row_function(self):
        split = self.split
        return compile_derived(
            [split.u, split.phi], [split.logp], lambda: split.logp, recipe="joint log-density"
        )

    def __call__(self, us: np.ndarray, phis: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            if self.elements > PER_ROW_FROM_ELEMENTS:
                return np.array(
                    [float(self.row_function(u, phi)) for u, phi in zip(us, phis, strict=True)]
                )
            # The vectorized graph holds every intermediate once per row: rows in chunks.
            step = max(1, JOINT_CHUNK_ELEMENTS // self.elements)
            return np.concatenate(
                [
                    np.asarray(self.function(us[i : i + step], phis[i : i + step]), "float64")
                    for i in range(0, us.shape[0], step)
                ]
            )
