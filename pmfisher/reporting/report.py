"""The HTML report of ``pmfisher report``: is the Laplace picture of a model good enough?

:func:`build_report` writes ``report.html`` into a folder, beside the PNG figures it embeds
(base64, so the HTML file stands alone): the model's variables, its maximum-likelihood
estimate with the observed information and standard errors, the Laplace approximation of the
posterior with its Pareto :math:`\\hat k` and a verdict in plain words, the deterministics by
the delta method and, with a NUTS reference, the comparison table and overlaid pictures.
A step that cannot be done for this model (no MLE, no posterior mode) is reported in its
section, and the rest of the report goes on.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import pymc as pm

from pmfisher.errors import ConvergenceError
from pmfisher.reporting.markup import Figures, failure_html, page
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.sections import (
    delta_html,
    laplace_html,
    mle_html,
    nuts_html,
    variables_html,
)
from pmfisher.reporting.steps import Progress

__all__ = ["build_report"]


def build_report(
    model: pm.Model,
    out,
    *,
    name: str = "model",
    source: str = "",
    nuts: bool = False,
    draws: int = 2000,
    chains: int = 2,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write ``out/report.html`` (and its PNG figures) for ``model``; return the HTML path.

    With ``nuts=True`` the model is also sampled with NUTS (``chains`` × ``draws``) and the
    Laplace approximation, of ``chains × draws`` draws, is compared with it. A step that
    cannot be done for this model, for whatever reason, is reported in its section with the
    reason, and the report goes on. Models with more than ``DRAWN_SCALARS`` parameters are
    summarized: shared parameters drawn one by one, group effects all at once, the rest in
    tables that fold away.
    """
    matplotlib.use("Agg")
    from pmfisher.reporting import plots  # after choosing a non-interactive backend

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(total=4 + int(nuts))
    figures = Figures(out)
    sections = [("Model", _attempt(None, lambda: variables_html(model), STEP_ADVICE["model"]))]

    with progress("maximum likelihood and observed information") as step:
        sections.append(
            (
                "Maximum likelihood",
                _attempt(step, lambda: mle_html(model, figures, plots), STEP_ADVICE["mle"]),
            )
        )

    approx = None
    with progress(f"Laplace approximation of the posterior ({draws * chains} draws)") as step:
        try:
            approx = _laplace(model, draws * chains, seed)
        except Exception as error:
            step.outcome = NOT_AVAILABLE
            advice = STEP_ADVICE["laplace with nuts" if nuts else "laplace"]
            sections.append(("Laplace approximation", failure_html(error, advice)))
        else:
            sections.append(
                (
                    "Laplace approximation",
                    _attempt(step, lambda: laplace_html(approx, figures, plots), ""),
                )
            )

    with progress("deterministics by the delta method") as step:
        delta = _attempt(step, lambda: delta_html(model, approx), "")
        sections.append(("Deterministics (delta method)", delta))

    if nuts:
        with progress(f"NUTS reference ({chains} chains × {draws} draws)") as step:
            try:
                reference = sample_nuts(
                    model, draws=draws, chains=chains, seed=seed, progress=progress
                )
            except Exception as error:
                step.outcome = NOT_AVAILABLE
                comparison = failure_html(error, STEP_ADVICE["nuts"])
            else:
                comparison = _attempt(
                    step, lambda: nuts_html(approx, reference, figures, plots), ""
                )
        sections.append(("Laplace vs NUTS", comparison))

    with progress("writing the HTML report"):
        path = out / "report.html"
        path.write_text(page(name, source, sections), encoding="utf-8")
    return path


NOT_AVAILABLE = "not available, the report says why"
# What a reader can do when a step is not available, beside the reason itself.
STEP_ADVICE = {
    "model": "",
    "mle": "The rest of the report does not depend on the maximum-likelihood estimate.",
    "laplace": (
        "Without a Laplace approximation there is nothing to judge; NUTS (pmfisher report "
        "FILE --out DIR --nuts) describes the posterior instead."
    ),
    "laplace with nuts": "The NUTS section below describes the posterior instead.",
    "nuts": "The Laplace sections above do not depend on NUTS.",
}


def _attempt(step, build, advice: str) -> str:
    """``build()``'s HTML, or the reason it could not be built (marking the step)."""
    try:
        return build()
    except Exception as error:
        if step is not None:
            step.outcome = NOT_AVAILABLE
        return failure_html(error, advice)


def _laplace(model, draws, seed):
    from pmfisher.approximation.laplace import laplace
    from pmfisher.fitting.mode_cache import current_mode

    with warnings.catch_warnings():
        # The section says what the warning says.
        warnings.simplefilter("ignore", UserWarning)
        mode = current_mode(model, terms="posterior", space="unconstrained")
    if not mode.converged:
        raise ConvergenceError(
            f"the posterior has no mode to centre a Gaussian on (gradient norm "
            f"{mode.grad_norm:.3g} after {mode.n_iter} iterations). {mode.message}"
        )
    with warnings.catch_warnings():
        # The verdict says what the k̂ warning says, in the report itself.
        warnings.simplefilter("ignore", UserWarning)
        return laplace(model=model, draws=draws, random_seed=seed)
