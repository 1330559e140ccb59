"""Curvature at the peak: the exponential log-likelihood at n = 6 and n = 60.

Seed text, section 2. Near the maximum likelihood estimate the log-likelihood is a downward
parabola, ℓ(λ) ≈ ℓ(λ̂) − ½ J (λ − λ̂)², with J = −ℓ''(λ̂) the observed information. At a
flat apex the curvature of a curve is the magnitude of its second derivative, so the
osculating circle at the peak has radius r = 1/J.

For the exponential model y ~ Exponential(λ) the MLE is λ̂ = 1/ȳ and J = n/λ̂². We draw
n = 6 and n = 60 observations with λ* = 2, fit each with ``pmfisher.find_mode``, take
``pmfisher.observed_information`` at the MLE, and draw the log-likelihood (PyMC's own
compiled log-density), its Taylor parabola and the osculating circle on equal axes. Little
data: a flat peak and a large circle. Ten times the data: a sharp spike, a circle ten times
smaller, and an estimate pinned down. J/n estimates the per-observation information
I₁(λ*) = 1/λ*².

Run: ``python case_studies/curvature_at_the_peak.py --out DIR`` (writes
``curvature_at_the_peak.png`` and ``curvature_at_the_peak.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

import pmfisher
from pmfisher.reporting.case_studies import run_as_script

NAME = "curvature_at_the_peak"
SEED = 20260618
TRUE_RATE = 2.0
SAMPLE_SIZES = (6, 60)


def exponential_model(y) -> pm.Model:
    with pm.Model() as model:
        lam = pm.HalfNormal("lam", 10.0)
        pm.Exponential("y", lam=lam, observed=y)
    return model


def log_likelihood_curve(model: pm.Model, rates: np.ndarray) -> np.ndarray:
    """ℓ(λ) on a grid, from PyMC's compiled log-likelihood (value variable log λ)."""
    log_likelihood = model.compile_logp(vars=model.observed_RVs, jacobian=False)
    value_name = model.rvs_to_values[model["lam"]].name
    return np.array([log_likelihood({value_name: np.log(rate)}) for rate in rates])


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    figure, axes = plt.subplots(1, 2, figsize=(10, 5.2), sharey=True)
    summary = {"true_rate": TRUE_RATE, "per_observation_information": 1 / TRUE_RATE**2}
    for n, ax in zip(SAMPLE_SIZES, axes, strict=True):
        y = rng.exponential(1 / TRUE_RATE, size=n)
        model = exponential_model(y)
        mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
        rate_hat = float(mode.point["lam"])
        information = float(pmfisher.observed_information(mode, model=model).values[0, 0])
        radius = 1 / information
        summary[f"n={n}"] = {
            "mle": rate_hat,
            "mle_closed_form": float(1 / y.mean()),
            "observed_information": information,
            "observed_information_closed_form": n / rate_hat**2,
            "osculating_radius": radius,
            "information_per_observation": information / n,
        }

        rates = np.linspace(0.3, 6.5, 60 if smoke else 400)
        curve = log_likelihood_curve(model, rates) - mode.logp
        parabola = -0.5 * information * (rates - rate_hat) ** 2
        angle = np.linspace(0, 2 * np.pi, 200)
        ax.plot(rates, curve, color="C0", lw=2, label="log-likelihood ℓ(λ) − ℓ(λ̂)")
        ax.plot(rates, parabola, color="C1", ls="--", label="Taylor parabola −½J(λ−λ̂)²")
        ax.plot(
            rate_hat + radius * np.cos(angle),
            -radius + radius * np.sin(angle),
            color="C2",
            label="osculating circle, radius 1/J",
        )
        ax.axvline(TRUE_RATE, color="grey", lw=0.8, ls=":", label="true λ*")
        ax.set(
            xlim=(0.3, 6.5),
            ylim=(-4.0, 0.5),
            aspect="equal",
            xlabel="rate λ",
            title=f"n = {n}: λ̂ = {rate_hat:.2f}, J = {information:.2f}, r = {radius:.3f}",
        )
    axes[0].set_ylabel("log-likelihood relative to its maximum")
    figure.suptitle("Exponential model: curvature at the peak is the observed information")
    figure.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=9)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
