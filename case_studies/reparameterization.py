"""A tensor, not a number: Bernoulli information in p and in the logit, and the natural gradient.

Seed text, section 6. Reparameterize θ = θ(φ) with J = ∂θ/∂φ: the information transforms
as a metric tensor, I_φ = Jᵀ I_θ J. For one Bernoulli observation I(p) = 1/(p(1−p)) blows
up at the edges, while in the log-odds η = log(p/(1−p)) — PyMC's own unconstrained
coordinate for a Beta-distributed p — it is the tame I(η) = p(1−p), with dp/dη = p(1−p).

``pmfisher.fisher_information`` computes both curves (``space="constrained"`` and
``"unconstrained"``), and ``pmfisher.check_tensor_law`` checks I_η = (dp/dη)² I_p with the
Jacobian from autodiff of the model's own transform; a second model written directly in η
(``Bernoulli(logit_p=eta)``) with the user mapping η ↦ sigmoid(η) checks it between two
models, and a Normal σ → log σ case checks a 2×2 one.

The payoff is the natural gradient I⁻¹∇ℓ. On 20 observations, the ordinary gradient
ascent step in η, mapped to p by dp/dη, differs from the step taken in p by the factor
(dp/dη)²; the natural-gradient steps agree exactly (third panel): the same change in the
distribution whatever the coordinates.

Run: ``python case_studies/reparameterization.py --out DIR`` (writes
``reparameterization.png`` and ``reparameterization.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import check_tensor_law, fisher_information, natural_gradient
from pmfisher.reporting.case_studies import run_as_script

NAME = "reparameterization"
SEED = 6
STARTS = (0.05, 0.2, 0.5, 0.8)


def bernoulli_in_p(y) -> pm.Model:
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Bernoulli("y", p=p, observed=y)
    return model


def bernoulli_in_logit(y) -> pm.Model:
    with pm.Model() as model:
        eta = pm.Normal("eta", 0.0, 3.0)
        pm.Bernoulli("y", logit_p=eta, observed=y)
    return model


def normal_model(y) -> pm.Model:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=y)
    return model


def logit_to_p(phi: dict) -> dict:
    """The user mapping η ↦ p between the two models, as a PyTensor expression."""
    return {"p": pm.math.sigmoid(phi["eta"])}


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)

    one = bernoulli_in_p(np.array([1]))
    grid = np.linspace(0.01, 0.99, 25 if smoke else 99)
    in_p = np.array([fisher_information({"p": p}, model=one).matrix.values[0, 0] for p in grid])
    in_eta = np.array(
        [
            fisher_information({"p": p}, model=one, space="unconstrained").matrix.values[0, 0]
            for p in grid
        ]
    )

    y = rng.binomial(1, 0.35, size=20)
    model, logit_model = bernoulli_in_p(y), bernoulli_in_logit(y)
    laws, steps = {}, []
    for p in STARTS:
        eta = float(np.log(p / (1 - p)))
        own = check_tensor_law({"p": p}, model=model)
        observed = check_tensor_law({"p": p}, model=model, information="observed")
        between = check_tensor_law(
            {"eta": eta},
            model=model,
            reparameterized=logit_model,
            mapping=logit_to_p,
        )
        laws[str(p)] = {
            "expected_max_error": own.max_error,
            "observed_max_error": observed.max_error,
            "observed_gradient_term": float(observed.gradient_term.values[0, 0]),
            "between_models_max_error": between.max_error,
            "jacobian": float(own.jacobian.values[0, 0]),
        }
        jacobian = p * (1 - p)  # dp/dη
        natural_p = float(natural_gradient({"p": p}, model=model).values[0])
        natural_eta = float(
            natural_gradient({"p": p}, model=model, space="unconstrained").values[0]
        )
        natural_logit = float(natural_gradient({"eta": eta}, model=logit_model).values[0])
        plain_p = (y.sum() - y.size * p) / (p * (1 - p))  # the score ∂ℓ/∂p, for contrast
        plain_eta = jacobian * plain_p  # the chain rule: ∂ℓ/∂η = (dp/dη) ∂ℓ/∂p
        steps.append(
            {
                "p": p,
                "natural_step_in_p": natural_p,
                "natural_step_in_eta_mapped_to_p": jacobian * natural_eta,
                "natural_step_in_logit_model_mapped_to_p": jacobian * natural_logit,
                "gradient_step_in_p": plain_p,
                "gradient_step_in_eta_mapped_to_p": jacobian * plain_eta,
            }
        )

    normal_y = rng.normal(1.0, 2.0, size=30)
    normal = normal_model(normal_y)
    normal_law = check_tensor_law({"mu": 0.7, "sigma": 1.6}, model=normal)
    normal_observed = check_tensor_law(
        {"mu": 0.7, "sigma": 1.6}, model=normal, information="observed"
    )

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    axes[0].plot(grid, in_p, color="C0", lw=2, label="pmfisher, space='constrained'")
    axes[0].plot(grid[::6], 1 / (grid[::6] * (1 - grid[::6])), "o", color="C1",
                 label="1 / (p(1−p))")  # fmt: skip
    axes[0].set(yscale="log", xlabel="p", ylabel="I(p)", title="Information in p: diverges")
    axes[0].legend()
    eta_grid = np.log(grid / (1 - grid))
    axes[1].plot(eta_grid, in_eta, color="C0", lw=2, label="pmfisher, space='unconstrained'")
    axes[1].plot(eta_grid[::6], (grid * (1 - grid))[::6], "o", color="C1", label="p(1−p)")
    axes[1].set(xlabel="η = log(p/(1−p))", ylabel="I(η)", title="Information in the logit: bounded")
    axes[1].legend()
    positions = np.arange(len(STARTS))
    width = 0.2
    bars = [
        ("gradient_step_in_p", "gradient, in p", "C7"),
        ("gradient_step_in_eta_mapped_to_p", "gradient, in η (mapped to p)", "C8"),
        ("natural_step_in_p", "natural gradient, in p", "C0"),
        ("natural_step_in_eta_mapped_to_p", "natural gradient, in η (mapped)", "C2"),
    ]
    for offset, (key, label, color) in enumerate(bars):
        values = [step[key] for step in steps]
        axes[2].bar(positions + (offset - 1.5) * width, values, width, color=color, label=label)
    axes[2].set_yscale("symlog", linthresh=0.1)
    axes[2].set_xticks(positions, [f"p = {p}" for p in STARTS])
    axes[2].set(ylabel="induced change in p (symlog)", title=f"Steps on {y.size} observations")
    axes[2].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)

    summary = {
        "information_in_p_max_relative_error": float(np.max(np.abs(in_p * grid * (1 - grid) - 1))),
        "information_in_eta_max_relative_error": float(
            np.max(np.abs(in_eta / (grid * (1 - grid)) - 1))
        ),
        "bernoulli_tensor_law": laws,
        "normal_log_sigma_tensor_law": {
            "expected_max_error": normal_law.max_error,
            "observed_max_error": normal_observed.max_error,
            "direct": normal_law.direct.values.tolist(),
            "closed_form": np.diag([normal_y.size / 1.6**2, 2.0 * normal_y.size]).tolist(),
        },
        "steps": steps,
        "observations": int(y.size),
        "successes": int(y.sum()),
    }
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
