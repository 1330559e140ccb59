"""The Cramér–Rao Gaussian against the NUTS posterior.

Seed text, section 3, read the Bayesian way. The asymptotic law
√n(θ̂ − θ) → N(0, I₁(θ)⁻¹) says the MLE is approximately N(θ, I_n(θ)⁻¹); by the
Bernstein–von Mises theorem the posterior under a weak prior is approximately the same
Gaussian centred at θ̂, N(θ̂, I_n(θ̂)⁻¹), with errors of order n^{-1/2} in units of the
posterior standard deviation.

We simulate n = 100 draws of N(μ = 1, σ = 2), fit the MLE with ``pmfisher.find_mode``, take
``pmfisher.cramer_rao_bound`` at it — for (μ, σ) the closed form diag(σ̂²/n, σ̂²/(2n)) — and
run a small NUTS chain on the same PyMC model with weak priors. The figure overlays the NUTS
marginals with the Cramér–Rao Gaussian and the joint draws with its 95% ellipse; the summary
lists means, standard deviations and their gaps in posterior-sd units, with the Monte Carlo
standard errors of the NUTS summaries.

Run: ``python case_studies/cramer_rao_vs_nuts.py --out DIR`` (writes
``cramer_rao_vs_nuts.png`` and ``cramer_rao_vs_nuts.json``).
"""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import arviz_stats
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
from scipy import stats

import pmfisher
from pmfisher import cramer_rao_bound
from pmfisher.reporting.case_studies import run_as_script

NAME = "cramer_rao_vs_nuts"
SEED = 9
MU, SIGMA, N = 1.0, 2.0, 100


def normal_model(y) -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 100.0)
        sigma = pm.HalfNormal("sigma", 100.0)
        pm.Normal("y", mu, sigma, observed=y)
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    y = rng.normal(MU, SIGMA, size=N)
    model = normal_model(y)
    mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    bound = cramer_rao_bound(mode, model=model)
    mle = mode.x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        posterior = pm.sample(
            model=model,
            draws=300 if smoke else 2000,
            tune=300 if smoke else 1000,
            chains=2,
            random_seed=SEED,
            progressbar=False,
        ).posterior

    labels = list(bound.param_i.values)
    draws = np.column_stack([posterior[name].values.ravel() for name in labels])
    mean_mcse = arviz_stats.mcse(posterior, method="mean")
    sd_mcse = arviz_stats.mcse(posterior, method="sd")
    rows = {}
    for k, name in enumerate(labels):
        sd = float(draws[:, k].std(ddof=1))
        rows[name] = {
            "mle": float(mle[k]),
            "cramer_rao_sd": float(np.sqrt(bound.values[k, k])),
            "posterior_mean": float(draws[:, k].mean()),
            "posterior_mean_mcse": float(mean_mcse[name]),
            "posterior_sd": sd,
            "posterior_sd_mcse": float(sd_mcse[name]),
            "z_gap": float((mle[k] - draws[:, k].mean()) / sd),
            "sd_ratio": float(np.sqrt(bound.values[k, k]) / sd),
        }
    sigma_hat = float(mode.point["sigma"])
    summary = {
        "n": N,
        "mle": {name: float(value) for name, value in zip(labels, mle, strict=True)},
        "bound": bound.values.tolist(),
        "bound_closed_form": np.diag([sigma_hat**2 / N, sigma_hat**2 / (2 * N)]).tolist(),
        "posterior_correlation": float(np.corrcoef(draws, rowvar=False)[0, 1]),
        "draws": int(draws.shape[0]),
        "parameters": rows,
    }

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for k, (ax, name) in enumerate(zip(axes[:2], labels, strict=True)):
        ax.hist(draws[:, k], bins=25 if smoke else 50, density=True, color="C0", alpha=0.5,
                label="NUTS posterior")  # fmt: skip
        sd = np.sqrt(bound.values[k, k])
        line = np.linspace(mle[k] - 4 * sd, mle[k] + 4 * sd, 200)
        ax.plot(line, stats.norm.pdf(line, mle[k], sd), color="C1", lw=2,
                label="N(θ̂, I(θ̂)⁻¹)")  # fmt: skip
        ax.set(
            xlabel=name, ylabel="density", title=f"{name}: sd ratio {rows[name]['sd_ratio']:.3f}"
        )
        ax.legend(fontsize=8)
    axes[2].scatter(draws[:, 0], draws[:, 1], s=3, alpha=0.3, color="C0", label="NUTS draws")
    angle = np.linspace(0, 2 * np.pi, 300)
    circle = np.sqrt(stats.chi2.ppf(0.95, 2)) * np.stack([np.cos(angle), np.sin(angle)])
    ellipse = np.linalg.cholesky(bound.values) @ circle
    axes[2].plot(mle[0] + ellipse[0], mle[1] + ellipse[1], color="C1", lw=2,
                 label="95% Cramér–Rao ellipse at the MLE")  # fmt: skip
    axes[2].set(xlabel=labels[0], ylabel=labels[1], title=f"Joint, n = {N}")
    axes[2].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
