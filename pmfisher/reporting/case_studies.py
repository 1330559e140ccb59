"""Running the case studies of ``case_studies/`` (one script per experiment).

Each script is a plain, runnable file with a narrative docstring and a
``main(out_dir, *, smoke=False) -> dict`` that writes its PNG figure and JSON summary into
``out_dir`` and returns the summary. This module loads them by path — they are examples,
not part of the package — and runs them in the order of :data:`CASE_STUDIES`.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pmfisher.errors import ArgumentError

__all__ = [
    "CASE_STUDIES",
    "DEFAULT_DIRECTORY",
    "case_study_title",
    "laplace_against_nuts",
    "require_scripts",
    "run_as_script",
    "run_case_studies",
]

#: Where the scripts are looked for unless told: ``case_studies/`` of the current folder (they
#: ship with the source repository, not with the wheel).
DEFAULT_DIRECTORY = Path("case_studies")

#: The case studies: the score's two moments, curvature at the peak, Cramér–Rao, KL
#: curvature, the Gaussian information matrix, reparameterization, the logistic Hessian and
#: the Gauss–Newton collapse; then Laplace against NUTS (up to 10,000 groups); then an optimal
#: pharmacokinetic sampling schedule and an optimal dose-response experiment.
CASE_STUDIES = (
    "score_two_forms",
    "curvature_at_the_peak",
    "cramer_rao_poisson",
    "kl_curvature",
    "gaussian_information_matrix",
    "reparameterization",
    "logistic_hessian",
    "profile_vs_wald",
    "gauss_newton_collapse",
    "cramer_rao_vs_nuts",
    "laplace_logistic_regression",
    "laplace_eight_schools",
    "laplace_hierarchical_data",
    "laplace_real_data",
    "laplace_many_groups",
    "nested_laplace_eight_schools",
    "nested_laplace_frailties",
    "nested_laplace_gaussian_process",
    "nested_laplace_glmm",
    "optimal_design_pk",
    "optimal_design_dose_response",
)


def run_case_studies(
    out_dir,
    *,
    smoke: bool = False,
    names: Sequence[str] | None = None,
    directory=DEFAULT_DIRECTORY,
) -> dict[str, dict]:
    """Run the case studies, writing their figures and summaries into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the figures (``<name>.png`` or ``<name>_<figure>.png``) and the
        ``<name>.json`` summaries (created if needed).
    smoke : bool
        The small scale (fewer groups, replicates, draws and grid points) at which each
        study still shows its conclusion: minutes for all of them, and what the tests run.
        ``False`` is the full scale of the published figures (``pmfisher case-studies
        --full``; their times are in ``benchmarks/case_studies.py``).
    names : sequence of str, optional
        A subset of :data:`CASE_STUDIES`; all of them by default.
    directory : str or Path
        The folder holding the scripts (``case_studies/`` of a checkout).

    Returns
    -------
    dict[str, dict]
        Case-study name → its numeric summary.
    """
    names = CASE_STUDIES if names is None else tuple(names)
    unknown = [name for name in names if name not in CASE_STUDIES]
    if unknown:
        raise ArgumentError(
            f"unknown case stud{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose among {', '.join(CASE_STUDIES)}."
        )
    directory = Path(directory)
    require_scripts(names, directory)
    out_dir = Path(out_dir)
    return {
        name: _load(directory / f"{name}.py", name).main(out_dir, smoke=smoke) for name in names
    }


def case_study_title(name: str, directory=DEFAULT_DIRECTORY) -> str:
    """The first line of the case study's docstring (what it shows), read without running
    the script."""
    source = (Path(directory) / f"{name}.py").read_text()
    return (ast.get_docstring(ast.parse(source)) or name).splitlines()[0]


def require_scripts(names: Sequence[str], directory) -> None:
    """A :class:`PMFisherError` saying where the scripts were looked for, unless every one of
    ``names`` is in ``directory``."""
    directory = Path(directory)
    advice = (
        "They ship with pmfisher's source repository, not with the installed package: run "
        "from a checkout, or name the folder that holds them with --dir."
    )
    if not directory.is_dir():
        raise ArgumentError(
            f"looked for the case-study scripts in {directory.resolve()}, which is not a "
            f"folder. {advice}"
        )
    missing = [name for name in names if not (directory / f"{name}.py").is_file()]
    if missing:
        raise ArgumentError(
            f"looked for the case-study scripts in {directory.resolve()} and did not find "
            f"{', '.join(f'{name}.py' for name in missing)}. {advice}"
        )


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"pmfisher_case_study_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_as_script(main: Callable[..., dict], docstring: str) -> None:
    """The command line every case-study script shares: ``--out DIR`` and ``--full``; runs
    ``main`` (at the small scale unless ``--full``) and prints its summary."""
    parser = argparse.ArgumentParser(description=docstring.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/case_studies"))
    parser.add_argument("--full", action="store_true", help="the full-scale run")
    arguments = parser.parse_args()
    print(json.dumps(main(arguments.out, smoke=not arguments.full), indent=2))


def laplace_against_nuts(model, out_dir, name: str, *, case: str, smoke: bool, seed) -> dict:
    """Laplace and NUTS on ``model``, compared, with the standard figures and a JSON summary
    ``<name>.json`` in ``out_dir``; returns the summary."""
    from pmfisher.approximation.compare import compare
    from pmfisher.approximation.laplace import laplace
    from pmfisher.reporting import plots
    from pmfisher.reporting.nuts import sample_nuts
    from pmfisher.reporting.verdicts import comparison_summary

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws, chains = (300, 2) if smoke else (2000, 4)
    approx = laplace(model=model, draws=1000 if smoke else 8000, random_seed=seed)
    reference = sample_nuts(model, draws=draws, chains=chains, seed=seed)
    table = compare(approx, reference)
    plots.save_laplace_figures(approx, reference, out, name)
    summary = {
        "case": case,
        "smoke": smoke,
        "nuts_draws": draws * chains,
        "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        **comparison_summary(table),
    }
    (out / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
