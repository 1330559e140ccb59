"""The Fisher information is the curvature of the Kullback–Leibler divergence.

Seed text, section 4. Expanding the divergence to a nearby distribution,
KL(p_θ ‖ p_θ+δ) = ½ δᵀ I(θ) δ + O(‖δ‖³): no constant term, no linear term (KL is zero and
minimal at δ = 0), and the quadratic term is the Fisher information.

Left: one Bernoulli observation at p = 0.3. ``pmfisher.kl_divergence`` gives the exact
divergence to p + δ and ``pmfisher.fisher_information`` the information I(p) = 1/(p(1−p))
(from the score, independently of the divergence); the two curves touch to second order at
δ = 0 and part at third order: KL / (½Iδ²) − 1 ≈ (2/3)(2p − 1)/(p(1−p)) · δ, the slope
recorded as ``cubic_ratio_slope``.

Right: one observation of N(μ, σ) at (0, 1). Exact KL contours in the (δμ, δσ) plane
(solid) against the Fisher ellipses ½ δᵀ I δ = c (dashed), I = diag(1/σ², 2/σ²): they
coincide near the origin — the information matrix is the local shape of KL — and separate
as c grows, KL penalizing a shrinking σ more than a growing one. ``pmfisher.kl_curvature``
(the exact Hessian of the divergence at δ = 0) recovers both informations.

Run: ``python case_studies/kl_curvature.py --out DIR`` (writes ``kl_curvature.png`` and
``kl_curvature.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import fisher_information, kl_curvature, kl_divergence
from pmfisher.reporting.case_studies import run_as_script

NAME = "kl_curvature"
P0 = 0.3
MU0, SIGMA0 = 0.0, 1.0
LEVELS = (0.001, 0.01, 0.05)


def bernoulli_model() -> pm.Model:
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Bernoulli("y", p=p, observed=np.array([1]))
    return model


def normal_model() -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=np.array([0.0]))
    return model


def bernoulli_panel(ax, *, smoke: bool) -> dict:
    model = bernoulli_model()
    point = {"p": P0}
    fisher = float(fisher_information(point, model=model, method="exact").matrix[0, 0])
    curvature = float(kl_curvature(point, model=model).values[0, 0])
    deltas = np.linspace(-P0 + 0.01, 0.97 - P0, 40 if smoke else 300)
    divergence = np.array([kl_divergence(point, {"p": P0 + d}, model=model) for d in deltas])
    ax.plot(P0 + deltas, divergence, color="C0", lw=2, label="KL(p ‖ p + δ), exact")
    ax.plot(P0 + deltas, 0.5 * fisher * deltas**2, color="C1", ls="--", label="½ I(p) δ²")
    ax.axvline(P0, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="p + δ",
        ylabel="divergence from Bernoulli(0.3)",
        ylim=(0, 1.6),
        title=f"Bernoulli at p = {P0}: I(p) = {fisher:.4f}",
    )
    ax.legend()
    small = {}
    for delta in (0.01, -0.01, 0.001):
        kl = kl_divergence(point, {"p": P0 + delta}, model=model)
        small[str(delta)] = kl / (0.5 * fisher * delta**2) - 1
    return {
        "p": P0,
        "fisher_information": fisher,
        "kl_curvature": curvature,
        "closed_form": 1 / (P0 * (1 - P0)),
        # KL = ½Iδ² + (1/6)κδ³ + O(δ⁴), κ = −2/p² + 2/(1−p)² the third derivative at δ = 0.
        "cubic_ratio_slope": (-2 / P0**2 + 2 / (1 - P0) ** 2) / (3 * fisher),
        "ratio_minus_one": small,
    }


def normal_panel(ax, *, smoke: bool) -> dict:
    model = normal_model()
    point = {"mu": MU0, "sigma": SIGMA0}
    fisher = fisher_information(point, model=model, method="exact").matrix.values
    curvature = kl_curvature(point, model=model).values
    size = 30 if smoke else 120
    d_mu = np.linspace(-0.45, 0.45, size)
    d_sigma = np.linspace(-0.3, 0.4, size)
    divergence = np.array(
        [
            [kl_divergence(point, {"mu": MU0 + a, "sigma": SIGMA0 + b}, model=model) for a in d_mu]
            for b in d_sigma
        ]
    )
    contours = ax.contour(d_mu, d_sigma, divergence, levels=LEVELS, colors="C0")
    ax.clabel(contours, fmt="KL=%g", fontsize=8)
    angle = np.linspace(0, 2 * np.pi, 400)
    on_ellipse = {}
    for level in LEVELS:
        # ½ δᵀ I δ = c with I = fisher, drawn through the Cholesky factor of I / (2c).
        circle = np.stack([np.cos(angle), np.sin(angle)])
        delta = np.linalg.solve(np.linalg.cholesky(fisher / (2 * level)).T, circle)
        ax.plot(delta[0], delta[1], color="C1", ls="--")
        ratios = [
            kl_divergence(point, {"mu": MU0 + a, "sigma": SIGMA0 + b}, model=model) / level
            for a, b in delta[:, :: 40 if smoke else 4].T
        ]
        on_ellipse[str(level)] = {"min_kl_over_c": min(ratios), "max_kl_over_c": max(ratios)}
    ax.plot([], [], color="C0", label="exact KL contours")
    ax.plot([], [], color="C1", ls="--", label="Fisher ellipses ½δᵀIδ = c")
    ax.set(
        xlabel="δμ",
        ylabel="δσ",
        aspect="equal",
        title=f"N(μ, σ) at ({MU0:g}, {SIGMA0:g}): c = {', '.join(map(str, LEVELS))}",
    )
    ax.legend(loc="upper right", fontsize=8)
    return {
        "mu": MU0,
        "sigma": SIGMA0,
        "fisher_information": fisher.tolist(),
        "kl_curvature": curvature.tolist(),
        "closed_form": np.diag([1 / SIGMA0**2, 2 / SIGMA0**2]).tolist(),
        "kl_over_c_on_fisher_ellipse": on_ellipse,
    }


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8))
    summary = {
        "bernoulli": bernoulli_panel(left, smoke=smoke),
        "normal": normal_panel(right, smoke=smoke),
    }
    figure.suptitle("The Fisher information is the Hessian of the KL divergence")
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
