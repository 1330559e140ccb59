"""Logistic regression: the loss Hessian is XᵀWX, the Fisher information, with no residual.

Seed text, section 7. For logistic regression the Hessian of the negative log-likelihood
is Xᵀ diag(σᵢ(1 − σᵢ)) X — exactly the Fisher information, at every β, because the model is
linear in its natural parameter: the residual term of the Gauss–Newton split vanishes and
the Hessian is positive semidefinite for free.

We simulate a design of 200 rows and 3 covariates, write the model in PyMC, and at the MLE
and at a point away from it compare ``pmfisher.observed_information`` with XᵀWX written out
in NumPy, and split it with ``pmfisher.gauss_newton``: the Gauss–Newton part (the exact
Fisher information) equals the Hessian and the residual is zero to rounding. The figure
shows the Hessian, XᵀWX and their difference.

Run: ``python case_studies/logistic_hessian.py --out DIR`` (writes ``logistic_hessian.png``
and ``logistic_hessian.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

import pmfisher
from pmfisher import gauss_newton
from pmfisher.reporting.case_studies import run_as_script

NAME = "logistic_hessian"
SEED = 7
TRUE_BETA = np.array([0.5, -1.0, 0.25])


def logistic_model(X, y) -> pm.Model:
    with pm.Model(coords={"coef": ["x1", "x2", "x3"]}) as model:
        beta = pm.Normal("beta", 0.0, 5.0, dims="coef")
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta), observed=y)
    return model


def weighted_gram(X, beta) -> np.ndarray:
    """XᵀWX with W = diag(σᵢ(1 − σᵢ)), the closed form the case study illustrates."""
    p = 1 / (1 + np.exp(-X @ beta))
    return X.T @ (X * (p * (1 - p))[:, None])


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(200, 3))
    y = rng.binomial(1, 1 / (1 + np.exp(-X @ TRUE_BETA)))
    model = logistic_model(X, y)
    mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    points = {"mle": np.asarray(mode.point["beta"]), "away": np.array([1.5, 0.5, -1.0])}

    summary = {}
    for name, beta in points.items():
        split = gauss_newton({"beta": beta}, model=model)
        closed_form = weighted_gram(X, beta)
        scale = np.abs(closed_form).max()
        summary[name] = {
            "beta": beta.tolist(),
            "hessian": split.hessian.values.tolist(),
            "closed_form": closed_form.tolist(),
            "hessian_vs_closed_form": float(
                np.abs(split.hessian.values - closed_form).max() / scale
            ),
            "gauss_newton_vs_closed_form": float(
                np.abs(split.gauss_newton.values - closed_form).max() / scale
            ),
            "relative_gap": split.relative_gap,
            "smallest_eigenvalue": float(np.linalg.eigvalsh(split.hessian.values)[0]),
        }

    split = gauss_newton({"beta": points["away"]}, model=model)
    closed_form = weighted_gram(X, points["away"])
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    labels = list(split.hessian.param_i.values)
    panels = [
        (split.hessian.values, "pmfisher Hessian −∇²ℓ(β)"),
        (closed_form, "XᵀWX, W = diag(σᵢ(1 − σᵢ))"),
        (split.hessian.values - closed_form, "difference (rounding only)"),
    ]
    for ax, (matrix, title) in zip(axes, panels, strict=True):
        limit = np.abs(matrix).max() or 1.0
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
        for (i, j), value in np.ndenumerate(matrix):
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=9, color=color)
        ax.set(xticks=range(3), yticks=range(3), xticklabels=labels, yticklabels=labels)
        ax.set_title(title, fontsize=10)
        figure.colorbar(image, ax=ax, shrink=0.8)
    figure.suptitle(
        f"Logistic regression at β = {points['away'].tolist()}: Hessian = Fisher = XᵀWX "
        f"(relative Gauss–Newton gap {split.relative_gap:.1e})"
    )
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
