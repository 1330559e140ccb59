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

import base64
import contextlib
import html
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import linalg

from pmfisher.approximation.compare import compare
from pmfisher.approximation.importance_sampling import khat_threshold
from pmfisher.errors import PMFisherError

__all__ = [
    "Progress",
    "build_report",
    "comparison_summary",
    "comparison_verdict",
    "khat_verdict",
    "sample_nuts",
]

# Laplace and NUTS "agree" when every mean is within this many reference sds ...
Z_GAP_AGREEMENT = 0.25
# ... and every sd ratio within this factor of 1.
SD_RATIO_AGREEMENT = 1.25
# Pair plots with more parameters than this show only the first ones.
PAIR_PLOT_LIMIT = 6
# Models with at most this many scalar parameters have each drawn (marginals, forest); larger
# ones are summarized: variables of at most GROUP_SIZE elements (the shared parameters) drawn
# one by one, the larger ones (group effects) all at once.
DRAWN_SCALARS = 24
GROUP_SIZE = 12
# Matrices up to this size are printed as tables; heat maps are drawn up to HEAT_MAP_LIMIT.
MATRIX_TABLE_LIMIT = 14
HEAT_MAP_LIMIT = 1000
# Tables longer than this fold away, showing their shared parameters or first FIRST_ROWS rows.
LONG_TABLE = 40
FIRST_ROWS = 10


@dataclass
class Progress:
    """One line per step on a stream (stderr by default): ``[2/5] Laplace … done (1.3 s)``,
    or ``… not available (0.4 s)`` when the step could not be done for this model."""

    total: int
    stream: object = field(default_factory=lambda: sys.stderr)
    step: int = 0

    def __call__(self, message: str):
        self.step += 1
        return _Step(self, f"[{self.step}/{self.total}] {message}")

    def note(self, text: str) -> None:
        """A line inside the current step, indented under it."""
        print(f"      {text}", file=self.stream, flush=True)


class _Step:
    def __init__(self, progress, text):
        self.progress, self.text = progress, text
        self.outcome = "done"

    def __enter__(self):
        print(f"{self.text} …", file=self.progress.stream, flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, error, traceback):
        outcome = "failed" if error is not None else self.outcome
        elapsed = time.perf_counter() - self.start
        print(f"{self.text} {outcome} ({elapsed:.1f} s)", file=self.progress.stream, flush=True)
        return False


def khat_verdict(pareto_k: float, threshold: float) -> str:
    r"""A plain-words reading of the Laplace approximation's Pareto :math:`\hat k`, against
    ``threshold`` (:func:`~pmfisher.approximation.importance_sampling.khat_threshold` of the
    number of draws).

    Examples
    --------
    >>> khat_verdict(0.2, 0.7).split(":")[0]
    'Good'
    >>> khat_verdict(0.9, 0.7).split(":")[0]
    'Unreliable'
    """
    if not pareto_k >= 0.5:
        shown = (
            "−∞ (the log-density is exactly Gaussian)"
            if np.isneginf(pareto_k)
            else (f"{pareto_k:.2f}")
        )
        return (
            f"Good: k̂ = {shown} < 0.5, so the Gaussian is close to the posterior, tails "
            "included; the Laplace summary can be used as it is."
        )
    if pareto_k < threshold:
        return (
            f"Usable: k̂ = {pareto_k:.2f} is between 0.5 and {threshold:.2f}, so the tails differ "
            "somewhat; importance sampling (laplace(importance_sampling='psis')) corrects the "
            "moments, and a NUTS comparison (--nuts) is worth a look."
        )
    if pareto_k < 1:
        return (
            f"Unreliable: k̂ = {pareto_k:.2f} ≥ {threshold:.2f}, so the Gaussian is far from "
            "the posterior in the tails and importance sampling cannot repair it; do not use "
            "the Laplace summary, run NUTS (--nuts)."
        )
    return (
        f"Unreliable: k̂ = {pareto_k:.2f} ≥ 1, so the importance ratios posterior / Gaussian "
        "have no finite mean: the Gaussian misses the posterior's mass; run NUTS (--nuts)."
    )


def comparison_verdict(table: xr.Dataset) -> str:
    """A plain-words reading of a :func:`~pmfisher.compare` table."""
    z_gap = np.abs(table["z_gap"].to_series())
    ratio = table["sd_ratio"].to_series()
    off = np.maximum(ratio, 1 / ratio)
    worst_mean, worst_sd = z_gap.idxmax(), off.idxmax()
    if z_gap.max() < Z_GAP_AGREEMENT and off.max() < SD_RATIO_AGREEMENT:
        return (
            f"Agree: every mean is within {Z_GAP_AGREEMENT} NUTS sds of NUTS (largest "
            f"|z_gap| {z_gap.max():.2f}, at {worst_mean}) and every sd within a factor "
            f"{SD_RATIO_AGREEMENT} (largest {off.max():.2f}, at {worst_sd}): the Laplace "
            "picture is good enough for this model."
        )
    return (
        f"Disagree: the largest mean gap is {z_gap.max():.2f} NUTS sds (at {worst_mean}) and "
        f"the largest sd ratio a factor {off.max():.2f} (at {worst_sd}); beyond "
        f"{Z_GAP_AGREEMENT} sds or a factor {SD_RATIO_AGREEMENT} the Laplace picture is not "
        "good enough for this model: use the NUTS posterior."
    )


def comparison_summary(table: xr.Dataset) -> dict:
    """The headline numbers of a :func:`~pmfisher.compare` table as plain Python values
    (for JSON): k̂ when present, the largest gaps, the joint summaries, and per parameter
    ``z_gap`` and ``sd_ratio``."""
    z_gap = table["z_gap"].to_series()
    sd_ratio = table["sd_ratio"].to_series()
    summary = {"pareto_k": float(table["pareto_k"])} if "pareto_k" in table else {}
    return summary | {
        "max_abs_z_gap": float(np.abs(z_gap).max()),
        "max_sd_ratio": float(sd_ratio.max()),
        "min_sd_ratio": float(sd_ratio.min()),
        "mahalanobis": float(table["mahalanobis"]),
        "gaussian_kl": float(table["gaussian_kl"]),
        "joint_coverage": {
            f"{p:g}": float(v)
            for p, v in zip(
                table["interval_prob"].values, table["joint_coverage"].values, strict=True
            )
        },
        "z_gap": {str(k): float(v) for k, v in z_gap.items()},
        "sd_ratio": {str(k): float(v) for k, v in sd_ratio.items()},
    }


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
    figures = _Figures(out)
    sections = [("Model", _attempt(None, lambda: _variables_html(model), STEP_ADVICE["model"]))]

    with progress("maximum likelihood and observed information") as step:
        sections.append(
            (
                "Maximum likelihood",
                _attempt(step, lambda: _mle_html(model, figures, plots), STEP_ADVICE["mle"]),
            )
        )

    approx = None
    with progress(f"Laplace approximation of the posterior ({draws * chains} draws)") as step:
        try:
            approx = _laplace(model, draws * chains, seed)
        except Exception as error:
            step.outcome = NOT_AVAILABLE
            advice = STEP_ADVICE["laplace with nuts" if nuts else "laplace"]
            sections.append(("Laplace approximation", _failure_html(error, advice)))
        else:
            sections.append(
                (
                    "Laplace approximation",
                    _attempt(step, lambda: _laplace_html(approx, figures, plots), ""),
                )
            )

    with progress("deterministics by the delta method") as step:
        delta = _attempt(step, lambda: _delta_html(model, approx), "")
        sections.append(("Deterministics (delta method)", delta))

    if nuts:
        with progress(f"NUTS reference ({chains} chains × {draws} draws)") as step:
            try:
                reference = sample_nuts(
                    model, draws=draws, chains=chains, seed=seed, progress=progress
                )
            except Exception as error:
                step.outcome = NOT_AVAILABLE
                comparison = _failure_html(error, STEP_ADVICE["nuts"])
            else:
                comparison = _attempt(
                    step, lambda: _nuts_html(approx, reference, figures, plots), ""
                )
        sections.append(("Laplace vs NUTS", comparison))

    with progress("writing the HTML report"):
        path = out / "report.html"
        path.write_text(_page(name, source, sections), encoding="utf-8")
    return path


NOT_AVAILABLE = "not available, the report says why"
# What to do when the likelihood alone identifies no MLE (the posterior may still be fine).
NO_MLE = (
    "The likelihood alone gives no standard errors here; the Laplace section describes the "
    "posterior, priors included."
)
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
        return _failure_html(error, advice)


# -- steps ----------------------------------------------------------------------------------


def _laplace(model, draws, seed):
    from pmfisher.approximation.laplace import laplace
    from pmfisher.fitting.mode_cache import current_mode

    with warnings.catch_warnings():
        # The section says what the warning says.
        warnings.simplefilter("ignore", UserWarning)
        mode = current_mode(model, terms="posterior", space="unconstrained")
    if not mode.converged:
        raise PMFisherError(
            f"the posterior has no mode to centre a Gaussian on (gradient norm "
            f"{mode.grad_norm:.3g} after {mode.n_iter} iterations). {mode.message}"
        )
    with warnings.catch_warnings():
        # The verdict says what the k̂ warning says, in the report itself.
        warnings.simplefilter("ignore", UserWarning)
        return laplace(model=model, draws=draws, random_seed=seed)


# PyMC's per-chain lines are replaced by one line at most this often when stderr is not a
# terminal (a log file, a CI job), where PyMC's own bar is not drawn.
NUTS_LINE_SECONDS = 10.0


def sample_nuts(
    model, *, draws: int, chains: int, seed, progress: Progress | None = None
) -> xr.DataTree:
    """The NUTS reference posterior, with the unconstrained (transformed) values kept so
    that pair plots can show the Laplace ellipses in the space they were fitted in.

    With ``progress``, PyMC's bar is drawn when someone watches a terminal; otherwise (a log,
    CI) a line under the step says how far the chains are every ``NUTS_LINE_SECONDS``, and
    PyMC's own messages are indented under the step.
    """
    from pmfisher._core.progress import progress_wanted

    bar = progress is not None and progress_wanted()
    lines = _NutsLines(progress, chains * (draws + max(draws, 500))) if progress else None
    with warnings.catch_warnings(), _pymc_messages_under(progress):
        warnings.simplefilter("ignore")
        return pm.sample(
            model=model,
            draws=draws,
            tune=max(draws, 500),
            chains=chains,
            random_seed=seed,
            progressbar=bar,
            callback=None if bar or lines is None else lines,
            idata_kwargs={"include_transformed": True},
        )


class _NutsLines:
    """A ``pm.sample`` callback printing how far the chains are, now and then."""

    def __init__(self, progress: Progress, total: int):
        self.progress, self.total = progress, total
        self.done = self.divergences = 0
        self.start = self.last = time.perf_counter()

    def __call__(self, trace, draw):
        self.done += 1
        stats = draw.stats[0] if isinstance(draw.stats, list | tuple) else draw.stats
        self.divergences += bool(stats.get("diverging", False)) and not draw.tuning
        now = time.perf_counter()
        if now - self.last >= NUTS_LINE_SECONDS:
            self.last = now
            self.progress.note(
                f"NUTS: {self.done}/{self.total} iterations of all chains "
                f"({100 * self.done / self.total:.0f}%), {self.divergences} divergent so far, "
                f"{now - self.start:.0f} s"
            )


@contextlib.contextmanager
def _pymc_messages_under(progress: Progress | None):
    """PyMC's log lines ("Sampling 2 chains …") indented under the report's step."""
    logger = logging.getLogger("pymc")
    if progress is None:
        yield
        return
    handler = logging.StreamHandler(progress.stream)
    handler.setFormatter(logging.Formatter("      pymc: %(message)s"))
    saved = logger.handlers, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


class _Figures:
    """Saves figures as PNGs in the report's folder and embeds them in the HTML."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, draw, filename: str, caption: str) -> str:
        path = self.folder / filename
        try:
            plot = draw(path)
        except Exception as error:  # one picture that cannot be drawn does not stop the rest
            return _failure_html(error, f"(the figure “{caption}”)")
        _close(plot)
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


def _close(plot):
    import matplotlib.pyplot as plt

    figure = plot
    if hasattr(plot, "viz"):
        figure = plot.viz["figure"].item()
    plt.close(figure)


def _variables_html(model) -> str:
    shapes = model.eval_rv_shapes()
    rows = []
    for kind, variables in (
        ("free", model.free_RVs),
        ("observed", model.observed_RVs),
        ("deterministic", model.deterministics),
    ):
        for variable in variables:
            transform = model.rvs_to_transforms.get(variable) if kind == "free" else None
            shape = shapes.get(variable.name)
            if shape is None:
                shape = tuple(variable.shape.eval())
            rows.append(
                {
                    "variable": variable.name,
                    "kind": kind,
                    "shape": str(tuple(int(n) for n in shape)),
                    "dims": ", ".join(model.named_vars_to_dims.get(variable.name) or ()) or "–",
                    "distribution": _distribution_name(variable)
                    if kind != "deterministic"
                    else "–",
                    "transform": type(transform).__name__ if transform is not None else "–",
                }
            )
    return _table(pd.DataFrame(rows).set_index("variable"))


def _distribution_name(variable) -> str:
    op = variable.owner.op
    return getattr(op, "name", None) or type(op).__name__


def _mle_html(model, figures, plots) -> str:
    from pmfisher._core.definiteness import positive_definite
    from pmfisher.fitting.mode_cache import current_mode
    from pmfisher.information.observed import observed_information

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mode = current_mode(model, terms="likelihood", space="constrained")
    if not mode.converged:
        raise PMFisherError(
            f"no maximum-likelihood estimate was found (gradient norm {mode.grad_norm:.3g} "
            f"after {mode.n_iter} iterations). {mode.message}"
        )
    information = observed_information(mode, model=model)
    precision = positive_definite(
        information.values, mode.labels, what="observed information at the MLE", advice=NO_MLE
    )
    identity = np.eye(len(mode.labels))
    errors = np.sqrt(np.diag(linalg.cho_solve((precision.cholesky, True), identity)))
    table = pd.DataFrame(
        {
            "estimate": mode.x,
            "std. error": errors,
            "95% Wald low": mode.x - 1.959964 * errors,
            "95% Wald high": mode.x + 1.959964 * errors,
        },
        index=pd.Index(mode.labels, name="parameter"),
    )
    text = (
        f"<p>Maximum-likelihood estimate (constrained space): log-likelihood "
        f"{mode.logp:.6g}, gradient norm {mode.grad_norm:.2g} after {mode.n_iter} Newton "
        "iterations. Standard errors are the square roots of the diagonal of the inverse "
        "observed information <i>J</i>(θ̂)⁻¹.</p>"
    )
    size = len(mode.labels)
    if size <= MATRIX_TABLE_LIMIT:
        matrix = _table(information.to_pandas())
    else:
        matrix = f"<p>{size} × {size}: too large for a table; the heat maps show it.</p>"
    return (
        text
        + _table(table)
        + "<h3>Observed information</h3>"
        + matrix
        + _heat_maps(
            information,
            figures,
            plots,
            (
                "observed_information.png",
                "Observed information at the MLE (colour: scale-free I_ij/√(I_ii I_jj)).",
            ),
            (
                "observed_information_correlation.png",
                "Correlations of the inverse observed information (the asymptotic covariance "
                "of θ̂).",
            ),
        )
    )


def _heat_maps(matrix, figures, plots, information, correlation) -> str:
    """The matrix and the correlations of its inverse as heat maps; each of ``information``
    and ``correlation`` is (file name, caption)."""
    size = matrix.shape[0]
    if size > HEAT_MAP_LIMIT:
        return (
            f"<p>No heat maps: {size} parameters are more than {HEAT_MAP_LIMIT} pixels a side "
            "can show.</p>"
        )
    return figures(lambda path: plots.plot_information(matrix, path=path), *information) + figures(
        lambda path: plots.plot_information(matrix, view="correlation", path=path), *correlation
    )


def _laplace_html(approx, figures, plots) -> str:
    pareto_k = float(approx["fit"]["pareto_k"])
    draws = approx["posterior"].sizes["draw"]
    verdict = khat_verdict(pareto_k, khat_threshold(draws))
    fit = approx["fit"]
    sd = np.sqrt(np.diag(fit["covariance_matrix"].values))
    gaussian = pd.DataFrame(
        {"mode": fit["mean_vector"].values, "sd": sd},
        index=pd.Index([str(label) for label in fit["param"].values], name="parameter"),
    )
    summary = _draw_summary(approx["posterior"].to_dataset(), _free_names(approx))
    text = (
        f'<p class="verdict {_verdict_class(verdict)}">{html.escape(verdict)}</p>'
        f"<p>The Gaussian N(θ̂, H⁻¹) of the log-posterior in the {approx.attrs['space']} space "
        f"(H its exact negative Hessian at the mode θ̂; log-posterior there "
        f"{approx.attrs['mode_logp']:.6g}).</p>"
    )
    pictures = figures(
        lambda path: plots.plot_khat({"Laplace": approx}, path=path),
        "laplace_khat.png",
        "Pareto k̂ of the importance ratios posterior / Laplace, against the reliability bands.",
    ) + _heat_maps(
        fit["precision_matrix"],
        figures,
        plots,
        (
            "laplace_precision.png",
            "Precision H of the Laplace approximation (the posterior's observed information).",
        ),
        ("laplace_correlation.png", "Correlations of the Laplace approximation H⁻¹."),
    )
    return (
        text
        + "<h3>Gaussian (mode and sd)</h3>"
        + _table(gaussian)
        + "<h3>Free variables from the Laplace draws (constrained space)</h3>"
        + _table(summary)
        + pictures
    )


def _delta_html(model, approx) -> str:
    if not model.deterministics:
        return "<p>The model has no deterministics.</p>"
    if approx is None:
        return "<p>No Laplace approximation, so no delta method.</p>"
    from pmfisher.approximation.delta import delta_method

    try:
        propagated = delta_method(approx, model=model)
    except PMFisherError as error:
        return _failure_html(error)
    rows = {}
    for name, variable in propagated.data_vars.items():
        means = variable.sel(stat="mean")
        sds = variable.sel(stat="sd")
        for label, mean, sd in zip(
            _element_labels(name, means), np.ravel(means.values), np.ravel(sds.values), strict=True
        ):
            rows[label] = {"mean (delta)": mean, "sd (delta)": sd}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("deterministic")
    return (
        "<p>First-order propagation through the Laplace Gaussian: g(θ̂) and "
        "√(∇gᵀ H⁻¹ ∇g).</p>" + _table(table)
    )


def _nuts_html(approx, reference, figures, plots) -> str:
    divergences = int(reference["sample_stats"]["diverging"].sum())
    if divergences:
        text = (
            f'<p class="verdict failure">NUTS reference: {divergences} divergent transitions — '
            "the reference itself is biased where the sampler diverges, so read the comparison "
            "with care. Divergences usually mean a funnel or a sudden change of curvature (a "
            "centred hierarchical scale near zero); a non-centred parameterization, or more "
            "tuning (--draws sets both), usually removes them.</p>"
        )
    else:
        text = "<p>NUTS reference: no divergent transitions.</p>"
    if approx is None:
        posterior = reference["posterior"].to_dataset()
        # The model's own variables; the transformed copies kept for pair plots end in "__".
        summary = _draw_summary(posterior, [n for n in posterior.data_vars if not n.endswith("__")])
        return text + "<p>No Laplace approximation to compare.</p>" + _table(summary)
    names = _free_names(approx)
    shared, groups = _shared_and_groups(approx["posterior"], names)
    table, coverage_note = _comparison(approx, reference, names, shared)
    verdict = comparison_verdict(table)
    per_parameter = table[
        [
            "mean_approx",
            "mean_reference",
            "sd_approx",
            "sd_reference",
            "z_gap",
            "sd_ratio",
            "wasserstein",
        ]
    ].to_dataframe()
    per_parameter["coverage 95%"] = table["coverage"].sel(interval_prob=0.95).values
    joint = (
        f"<p>Jointly over {_joint_names(table.attrs['joint_params'])}: Mahalanobis distance "
        f"of the means {float(table['mahalanobis']):.3g}, Gaussian KL(Laplace ‖ NUTS) "
        f"{float(table['gaussian_kl']):.3g}, NUTS mass inside the Laplace central 50% / 90% / "
        f"95% regions {' / '.join(f'{v:.2f}' for v in table['joint_coverage'].values)}.</p>"
    )
    value_names = list(approx["unconstrained_posterior"].data_vars)
    pair_names, pair_coords = _pair_selection(approx, value_names)
    names_pair = ("Laplace", "NUTS")
    drawn = _scalar_count(approx["posterior"], shared)
    pictures = ""
    if drawn > DRAWN_SCALARS:
        pictures += (
            f"<p>No marginal densities: the shared parameters have {drawn} scalars, more than "
            f"the {DRAWN_SCALARS} that can be drawn one by one; the forest and the table show "
            "them.</p>"
        )
    elif shared:
        pictures += figures(
            lambda path: plots.plot_marginals(
                approx, reference, var_names=shared, names=names_pair, path=path
            ),
            "marginals.png",
            "Marginal densities: Laplace (blue) and NUTS (orange)"
            + (" of the shared parameters." if groups else "."),
        )
    if shared:
        pictures += figures(
            lambda path: plots.plot_forest(
                approx, reference, var_names=shared, names=names_pair, path=path
            ),
            "forest.png",
            "Means with 50% and 94% intervals: Laplace and NUTS"
            + (" (shared parameters)." if groups else "."),
        )
    if groups:
        pictures += figures(
            lambda path: plots.plot_group_comparison(
                approx, reference, var_names=groups, names=names_pair, path=path
            ),
            "group_effects.png",
            f"Group effects ({', '.join(groups)}), every element at once: Laplace against NUTS "
            "means and sds; on the diagonal they agree.",
        )
    pictures += figures(
        lambda path: plots.plot_pair_ellipses(
            approx, reference, var_names=pair_names, coords=pair_coords, path=path
        ),
        "pair_ellipses.png",
        "NUTS draws with the Laplace 50% and 95% ellipses, in the unconstrained space "
        f"where the Laplace approximation is Gaussian (at most {PAIR_PLOT_LIMIT} parameters).",
    )
    return (
        f'<p class="verdict {_verdict_class(verdict)}">{html.escape(verdict)}</p>'
        + text
        + coverage_note
        + _table(per_parameter)
        + joint
        + pictures
    )


def _comparison(approx, reference, names, shared) -> tuple[xr.Dataset, str]:
    """:func:`~pmfisher.compare` over every shared variable and, when their draws cannot give a
    joint summary (fewer draws than parameters; a simplex, whose entries sum to one), over
    the shared parameters or in the unconstrained coordinates instead, with a note saying
    so. The first reason is raised when nothing can be compared."""
    try:
        return compare(approx, reference), ""
    except PMFisherError as error:
        first = error
    if shared and shared != names:
        try:
            table = compare(approx, reference, var_names=shared)
        except PMFisherError:
            pass
        else:
            draws = reference["posterior"].sizes["chain"] * reference["posterior"].sizes["draw"]
            return table, (
                f"<p>The table and the joint summaries cover the shared parameters "
                f"({', '.join(shared)}): the joint covariance of all "
                f"{approx['fit'].sizes['param']} parameters cannot be estimated from {draws} "
                "NUTS draws. The figure of group effects compares the rest; more draws "
                "(--draws) lift this.</p>"
            )
    unconstrained = approx["unconstrained_posterior"].to_dataset()
    value_names = [name for name in unconstrained.data_vars if name not in names]
    if value_names and all(name in reference["posterior"].data_vars for name in value_names):
        inner = xr.DataTree.from_dict(
            {"posterior": unconstrained, "fit": approx["fit"].to_dataset()}
        )
        try:
            table = compare(inner, reference, var_names=list(unconstrained.data_vars))
        except PMFisherError:
            pass
        else:
            return table, (
                "<p>Compared in the unconstrained coordinates, where the Laplace "
                "approximation is Gaussian: in the constrained ones the draws have no joint "
                "covariance (the entries of a simplex sum to one, or there are fewer draws "
                "than parameters).</p>"
            )
    raise first


def _joint_names(names) -> str:
    names = list(names)
    if len(names) <= 12:
        return ", ".join(names)
    return f"all {len(names)} parameters ({', '.join(names[:6])}, …)"


def _shared_and_groups(posterior, names) -> tuple[list[str], list[str]]:
    """Variables with at most ``GROUP_SIZE`` elements (the shared parameters) and the rest
    (group effects), when the model has more than ``DRAWN_SCALARS`` scalars; otherwise every
    variable counts as shared and is drawn."""
    if _scalar_count(posterior, names) <= DRAWN_SCALARS:
        return list(names), []
    shared = [name for name in names if _scalar_count(posterior, [name]) <= GROUP_SIZE]
    return shared, [name for name in names if name not in shared]


def _scalar_count(posterior, names) -> int:
    sample = {"chain", "draw"}
    return sum(
        int(np.prod([size for dim, size in posterior[name].sizes.items() if dim not in sample]))
        for name in names
    )


def _pair_selection(approx, value_names):
    """At most ``PAIR_PLOT_LIMIT`` parameters: whole variables first, then the first
    coordinates of the remaining dimension."""
    posterior = approx["unconstrained_posterior"]
    chosen, count, coords = [], 0, {}
    for name in value_names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        size = int(np.prod([variable.sizes[dim] for dim in extra])) if extra else 1
        room = PAIR_PLOT_LIMIT - count
        if room <= 0:
            break
        if size > room:
            if len(extra) != 1 or extra[0] not in variable.coords:
                continue
            coords[extra[0]] = variable[extra[0]].values[:room].tolist()
            size = room
        chosen.append(name)
        count += size
    return chosen, coords or None


def _free_names(approx) -> list[str]:
    """The free variables' names in the approximation's posterior (not the deterministics)."""
    bases = {str(label).partition("[")[0] for label in approx["fit"]["param"].values}
    return [
        name
        for name in approx["posterior"].data_vars
        if any(
            base == name or (base.startswith(f"{name}_") and base.endswith("__")) for base in bases
        )
    ]


def _draw_summary(posterior: xr.Dataset, names) -> pd.DataFrame:
    names = list(posterior.data_vars) if names is None else names
    rows = {}
    for name in names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        flat = variable.stack(sample=("chain", "draw")).transpose(*extra, "sample")
        values = flat.values.reshape(-1, flat.sizes["sample"])
        for label, row in zip(_element_labels(name, flat.isel(sample=0)), values, strict=True):
            low, high = np.quantile(row, [0.03, 0.97])
            rows[label] = {"mean": row.mean(), "sd": row.std(ddof=1), "3%": low, "97%": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")


def _element_labels(name, array: xr.DataArray) -> list[str]:
    from pmfisher._core.labelled import element_labels

    coords = {dim: array[dim].values for dim in array.dims if dim in array.coords}
    return list(element_labels(name, array.shape, list(array.dims), coords))


# -- HTML -----------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
details { margin: .5em 0 1em; } summary { cursor: pointer; color: #1764f4; }
.scroll { max-height: 28em; overflow: auto; border: 1px solid #eee; }
.verdict { padding: .6em 1em; border-left: 5px solid; }
.good { border-color: #2a9d3a; background: #eef8ef; }
.bad { border-color: #c0392b; background: #fbeeee; }
.failure { border-color: #b36b00; background: #fff5e6; }
"""


def _page(name, source, sections) -> str:
    body = "".join(f"<h2>{html.escape(title)}</h2>\n{content}\n" for title, content in sections)
    title = f"pmfisher report: {name}"
    origin = f" from {html.escape(source)}" if source else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Model <code>{html.escape(name)}</code>{origin}.</p>"
        f"{body}</body></html>\n"
    )


def _table(frame: pd.DataFrame) -> str:
    """An HTML table; one longer than ``LONG_TABLE`` rows shows its shared parameters (or its
    first rows) and folds the whole table away under a click."""

    def html_of(rows):
        return rows.to_html(float_format=lambda v: f"{v:.4g}", border=0)

    if len(frame) <= LONG_TABLE:
        return html_of(frame)
    bases = pd.Series([str(label).partition("[")[0] for label in frame.index])
    counts = bases.map(bases.value_counts())
    shared = frame[(counts <= GROUP_SIZE).to_numpy()]
    if 0 < len(shared) <= LONG_TABLE:
        visible = shared
        shown = f"the shared parameters ({len(shared)} of {len(frame)} rows)"
    else:
        visible, shown = frame.iloc[:FIRST_ROWS], f"the first {FIRST_ROWS} of {len(frame)} rows"
    return (
        html_of(visible)
        + f"<details><summary>{shown} are shown above; click for all {len(frame)}</summary>"
        f'<div class="scroll">{html_of(frame)}</div></details>'
    )


def _failure_html(error, advice: str = "") -> str:
    """Why a step is not available: pmfisher's own message, or for any other error its type
    and first line with what to do about it."""
    if isinstance(error, PMFisherError):
        reason = str(error)
    else:
        first = (str(error).strip().splitlines() or [""])[0]
        reason = (
            f"pmfisher could not do this step ({type(error).__name__}: {first}). PyMC accepts "
            "the model, so this is a gap in pmfisher rather than a fault of the model; please "
            "report it with the model file."
        )
    text = f"Not available for this model: {reason}"
    if advice:
        text += f" {advice}"
    return f'<p class="verdict failure">{html.escape(text)}</p>'


def _verdict_class(verdict: str) -> str:
    return "good" if verdict.startswith(("Good", "Usable", "Agree")) else "bad"
