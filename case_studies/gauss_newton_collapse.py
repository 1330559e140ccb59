"""The Hessian collapses onto Gauss–Newton as a nonlinear regression is fitted.

Seed text, section 7. For a nonlinear model f_θ with Gaussian noise of known σ, the
Hessian of the loss L = −ℓ splits in two,

    ∇²L = (1/σ²) Σᵢ ∇fᵢ ∇fᵢᵀ  −  (1/σ²) Σᵢ rᵢ ∇²fᵢ,     rᵢ = yᵢ − f_θ(xᵢ):

the Fisher / Gauss–Newton matrix JᵀJ/σ², positive semidefinite and made of first
derivatives only, and a residual term weighted by the residuals. Far from the data the
residuals are large and so is the residual term; as the fit reaches the noise floor the
residuals become mean-zero noise, the residual term averages away, and ∇²L → I.

The model is f(x) = a(1 − exp(−b x)) with σ = 0.1, written in PyMC. We fit it by
Gauss–Newton steps, which for this likelihood are natural-gradient steps
(``pmfisher.natural_gradient``, halved when a step would not lower the loss), starting far
from the data, and at every iterate split the Hessian with ``pmfisher.gauss_newton``. The
summary checks the split against the closed forms above at the start and at the end.

Run: ``python case_studies/gauss_newton_collapse.py --out DIR`` (writes
``gauss_newton_collapse.png`` and ``gauss_newton_collapse.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import gauss_newton, natural_gradient
from pmfisher.reporting.case_studies import run_as_script

NAME = "gauss_newton_collapse"
SEED = 8
TRUE = {"a": 2.0, "b": 0.8}
START = {"a": 0.5, "b": 0.2}
SIGMA = 0.1
X = np.linspace(0.0, 5.0, 40)


def saturation_model(y) -> pm.Model:
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 10.0)
        b = pm.HalfNormal("b", 5.0)
        pm.Normal("y", a * (1 - pm.math.exp(-b * X)), SIGMA, observed=y)
    return model


def closed_form_split(point, y) -> tuple[np.ndarray, np.ndarray]:
    """JᵀJ/σ² and −Σ rᵢ∇²fᵢ/σ² for f = a(1 − e^{−bx}), the formulas being illustrated."""
    a, b = point["a"], point["b"]
    decay = np.exp(-b * X)
    jacobian = np.column_stack([1 - decay, a * X * decay])
    residuals = y - a * (1 - decay)
    second = np.array(
        [
            [np.zeros_like(X), X * decay],
            [X * decay, -a * X**2 * decay],
        ]
    )  # ∇²fᵢ, shape (2, 2, n)
    return jacobian.T @ jacobian / SIGMA**2, -(second * residuals).sum(axis=-1) / SIGMA**2


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    y = TRUE["a"] * (1 - np.exp(-TRUE["b"] * X)) + rng.normal(scale=SIGMA, size=X.size)
    model = saturation_model(y)
    log_likelihood = model.compile_logp(vars=model.observed_RVs, jacobian=False)

    def loss(point) -> float:
        if point["b"] <= 0:
            return np.inf
        return -float(log_likelihood({"a": point["a"], "b_log__": np.log(point["b"])}))

    point, history = dict(START), []
    for _ in range(6 if smoke else 12):
        split = gauss_newton(point, model=model)
        history.append({**point, "loss": loss(point), "relative_gap": split.relative_gap})
        step = natural_gradient(point, model=model).values
        scale = 1.0
        while True:
            trial = {"a": point["a"] + scale * step[0], "b": point["b"] + scale * step[1]}
            if loss(trial) <= loss(point) or scale < 1e-6:
                break
            scale /= 2
        point = trial

    # The floor: the expected loss at the truth, n (log(σ√(2π)) + ½).
    floor = X.size * (np.log(SIGMA * np.sqrt(2 * np.pi)) + 0.5)
    checks = {}
    for name, at in (("start", START), ("final", point)):
        split = gauss_newton(at, model=model)
        gauss_newton_closed, residual_closed = closed_form_split(at, y)
        hessian = split.hessian.values
        checks[name] = {
            "point": {key: float(value) for key, value in at.items()},
            "relative_gap": split.relative_gap,
            "hessian_equals_parts": float(
                np.abs(hessian - split.gauss_newton.values - split.residual.values).max()
                / np.abs(hessian).max()
            ),
            "gauss_newton_vs_closed_form": float(
                np.abs(split.gauss_newton.values - gauss_newton_closed).max()
                / np.abs(gauss_newton_closed).max()
            ),
            "residual_vs_closed_form": float(
                np.abs(split.residual.values - residual_closed).max() / np.abs(hessian).max()
            ),
        }
    summary = {"sigma": SIGMA, "n": X.size, "noise_floor": floor, "history": history, **checks}

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    axes[0].plot(X, y, "k.", label="data")
    line = np.linspace(0, 5, 200)
    for index in sorted({0, 1, 2, len(history) - 1}):
        at = history[index]
        axes[0].plot(line, at["a"] * (1 - np.exp(-at["b"] * line)), label=f"iterate {index}")
    axes[0].set(xlabel="x", ylabel="y", title="f(x) = a(1 − exp(−bx)), fitted by Gauss–Newton")
    axes[0].legend(fontsize=8)
    iterations = np.arange(len(history))
    losses = np.array([entry["loss"] for entry in history])
    axes[1].plot(iterations, losses - floor, "o-", color="C0")
    axes[1].axhline(0.0, color="grey", ls=":", label="noise floor E[L(θ*)]")
    axes[1].set(yscale="symlog", xlabel="iteration", ylabel="training loss − noise floor")
    axes[1].set_ylim(bottom=-1.0)
    axes[1].set_title("Training loss")
    axes[1].legend()
    gaps = np.array([entry["relative_gap"] for entry in history])
    axes[2].plot(iterations, gaps, "o-", color="C3")
    axes[2].set(yscale="log", xlabel="iteration", ylabel="‖∇²L − G‖ / ‖∇²L‖")
    axes[2].set_title("Relative gap between Hessian and Gauss–Newton")
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
