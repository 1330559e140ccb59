"""The matrix case: the 2×2 information of N(μ, σ²) and the cloud of its MLEs.

Seed text, section 5. For the Gaussian with mean and variance unknown,

    I(μ, σ²) = n · diag(1/σ², 1/(2σ⁴)),

and the zero off-diagonal says μ and σ² are orthogonal: their MLEs are asymptotically
uncorrelated and the confidence region is an axis-aligned ellipse. The inverse,
diag(σ²/n, 2σ⁴/n), is the familiar pair of variances of the sample mean and variance.

The PyMC model is written in (μ, σ²) — ``var`` is the variance, the likelihood
``Normal(mu, sigma=sqrt(var))``. ``pmfisher.fisher_information`` gives the matrix exactly
(by the chain rule through sqrt) and by Monte Carlo in both forms; ``pmfisher.simulate_estimator``
fits (μ̂, σ̂²) on many simulated data sets. The figure shows the cloud of estimates with the
95% ellipse of N(θ, I⁻¹) from ``pmfisher.cramer_rao_bound``: axis-aligned, and hugging the
cloud. (σ̂² has finite-sample variance 2σ⁴(n−1)/n², just under the bound 2σ⁴/n, because it
is biased by −σ²/n; the summary reports both.)

Run: ``python case_studies/gaussian_information_matrix.py --out DIR`` (writes
``gaussian_information_matrix.png`` and ``gaussian_information_matrix.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
from scipy import stats

from pmfisher import cramer_rao_bound, fisher_information, simulate_estimator
from pmfisher.reporting.case_studies import run_as_script

NAME = "gaussian_information_matrix"
SEED = 5
MU, VARIANCE, N = 1.0, 4.0, 50


def gaussian_model(n: int) -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        var = pm.HalfNormal("var", 10.0)
        pm.Normal("y", mu, sigma=pm.math.sqrt(var), observed=np.zeros(n))
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    replicates = 400 if smoke else 4000
    model = gaussian_model(N)
    point = {"mu": MU, "var": VARIANCE}
    closed_form = N * np.diag([1 / VARIANCE, 1 / (2 * VARIANCE**2)])
    exact = fisher_information(point, model=model, method="exact")
    simulated = fisher_information(
        point, model=model, method="monte_carlo", replicates=replicates, random_seed=SEED
    )
    bound = cramer_rao_bound(point, model=model)
    study = simulate_estimator(point, model=model, replicates=replicates, random_seed=SEED + 1)

    estimates = study.estimates.values
    centred = estimates - np.array([MU, VARIANCE])
    precision = np.linalg.inv(bound.values)
    distance = np.einsum("ri,ij,rj->r", centred, precision, centred)
    radius = stats.chi2.ppf(0.95, df=2)
    summary = {
        "n": N,
        "mu": MU,
        "variance": VARIANCE,
        "closed_form": closed_form.tolist(),
        "exact": exact.matrix.values.tolist(),
        "score_covariance": simulated.score_covariance.values.tolist(),
        "score_covariance_mcse": simulated.mcse["score_covariance"].values.tolist(),
        "negative_hessian": simulated.negative_hessian.values.tolist(),
        "negative_hessian_mcse": simulated.mcse["negative_hessian"].values.tolist(),
        "bound": bound.values.tolist(),
        "bound_closed_form": np.diag([VARIANCE / N, 2 * VARIANCE**2 / N]).tolist(),
        "estimate_covariance": study.covariance.values.tolist(),
        "estimate_variance_mcse": study.variance_mcse.values.tolist(),
        "finite_sample_variance": [VARIANCE / N, 2 * VARIANCE**2 * (N - 1) / N**2],
        "estimate_correlation": float(np.corrcoef(estimates, rowvar=False)[0, 1]),
        "inside_95_ellipse": float(np.mean(distance <= radius)),
        "replicates": study.replicates,
    }

    figure, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.scatter(estimates[:, 0], estimates[:, 1], s=4, alpha=0.35, color="C0",
               label=f"MLEs (μ̂, σ̂²) from {study.replicates} data sets")  # fmt: skip
    angle = np.linspace(0, 2 * np.pi, 300)
    circle = np.sqrt(radius) * np.stack([np.cos(angle), np.sin(angle)])
    ellipse = np.linalg.cholesky(bound.values) @ circle
    ax.plot(MU + ellipse[0], VARIANCE + ellipse[1], color="C1", lw=2,
            label="95% ellipse of N(θ, I⁻¹)")  # fmt: skip
    ax.plot([MU], [VARIANCE], "k+", ms=12, label="truth")
    ax.set(
        xlabel="μ̂",
        ylabel="σ̂²",
        title=f"N(μ, σ²), n = {N}: {summary['inside_95_ellipse']:.1%} inside the ellipse",
    )
    ax.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
