"""The pmfisher command.

pmfisher report FILE.py[:NAME] [--out DIR [--nuts]] [--draws N] [--chains C] [--seed S]
pmfisher case-studies [--dir DIR] [--out DIR] [--full] [--only NAME ...]
"""

import argparse
import sys
import time
from pathlib import Path

from pmfisher._core.linalg.definiteness import positive_definite
from pmfisher.errors import ConvergenceError, PMFisherError
from pmfisher.fitting.mode_cache import current_mode
from pmfisher.information.observed import observed_information
from pmfisher.reporting.case_studies import (
    CASE_STUDIES,
    DEFAULT_DIRECTORY,
    case_study_title,
    require_scripts,
    run_case_studies,
)
from pmfisher.reporting.model_file import load_model
from pmfisher.reporting.report import build_report
from pmfisher.reporting.standard_errors import mle_summary

__all__ = ["main"]


DESCRIPTION = """\
Curvature of a PyMC model: maximum likelihood with standard errors, the Laplace
approximation of the posterior and, with --nuts, how it compares with NUTS.

examples:
  pmfisher report model.py                 print the MLE and standard errors
  pmfisher report model.py:m --out report  also write report/report.html
  pmfisher report model.py --out report --nuts
  pmfisher case-studies                    every case study, small scale (minutes)
  pmfisher case-studies --full             at full scale (hours: see benchmarks/)
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="pmfisher",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser(
        "report",
        help="curvature report on a model file",
        description="Print the maximum-likelihood estimate, observed information and standard "
        "errors of the PyMC model in FILE.py; with --out, also write an HTML report with the "
        "Laplace approximation of the posterior (and with --nuts, its comparison with NUTS).",
    )
    report.add_argument(
        "model",
        metavar="FILE.py[:NAME]",
        help="a Python file that builds a pm.Model at top level; NAME picks one of several",
    )
    report.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for the report's files, report.html among them",
    )
    report.add_argument(
        "--nuts",
        action="store_true",
        help="compare the Laplace approximation with NUTS in the HTML report (needs --out)",
    )
    report.add_argument(
        "--draws",
        type=_positive,
        default=2000,
        metavar="N",
        help="NUTS draws (and tuning steps, at least 500) per chain; the Laplace "
        "approximation gets draws × chains (default 2000)",
    )
    report.add_argument(
        "--chains", type=_positive, default=2, metavar="C", help="NUTS chains (default 2)"
    )
    report.add_argument("--seed", type=int, default=None, metavar="S", help="random seed")
    studies = commands.add_parser(
        "case-studies",
        help="run the case studies",
        description="Run the case-study scripts, each writing its figures and a numeric "
        "summary: at a small scale that shows each study's conclusion in minutes, or with --full "
        "at the scale of the published figures (hours on two cores; the times are in "
        "benchmarks/case_studies.py).",
    )
    studies.add_argument(
        "--out",
        type=Path,
        default=Path("results/case_studies"),
        metavar="DIR",
        help="folder for their files (default: results/case_studies)",
    )
    studies.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIRECTORY,
        metavar="DIR",
        help="folder holding the case-study scripts (default: ./case_studies)",
    )
    studies.add_argument(
        "--full",
        action="store_true",
        help="full-scale runs (the 10,000-group Laplace-against-NUTS comparison among them)",
    )
    studies.add_argument("--only", nargs="+", metavar="NAME", help="run only these")
    arguments = parser.parse_args(argv)
    if arguments.command == "report" and arguments.nuts and arguments.out is None:
        print(
            "pmfisher: --nuts compares Laplace with NUTS in the HTML report, which needs a "
            f"folder: add --out DIR (for example: pmfisher report {arguments.model} --out "
            "report --nuts).",
            file=sys.stderr,
        )
        return 2
    try:
        if arguments.command == "case-studies":
            return _case_studies(arguments)
        return _report(arguments)
    except PMFisherError as error:
        print(f"pmfisher: {error}", file=sys.stderr)
        return 1


def _report(arguments) -> int:
    name, model = load_model(arguments.model)
    print(f"model {name!r} from {arguments.model}")
    print(f"  free variables:     {', '.join(rv.name for rv in model.free_RVs)}")
    print(f"  observed variables: {', '.join(rv.name for rv in model.observed_RVs)}")
    print(f"  deterministics:     {', '.join(v.name for v in model.deterministics) or '-'}")
    try:
        _print_mle(model, arguments.out)
    except Exception as error:
        reason = _reason(error)
        if arguments.out is None:
            raise ConvergenceError(f"maximum likelihood is not available: {reason}") from error
        print(f"\nmaximum likelihood: not available: {reason}")
    if arguments.out is not None:
        arguments.out.mkdir(parents=True, exist_ok=True)
        path = build_report(
            model,
            arguments.out,
            name=name,
            source=arguments.model,
            nuts=arguments.nuts,
            draws=arguments.draws,
            chains=arguments.chains,
            seed=arguments.seed,
        )
        print(f"\nwritten to {arguments.out}/ (open {path})")
    return 0


def _reason(error: Exception) -> str:
    """pmfisher's own message, or the first line of any other error with what to do."""
    if isinstance(error, PMFisherError):
        return str(error)
    first = (str(error).strip().splitlines() or [""])[0]
    return (
        f"pmfisher could not do this ({type(error).__name__}: {first}); PyMC accepts the "
        "model, so this is a gap in pmfisher: please report it with the model file."
    )


def _case_studies(arguments) -> int:
    names = arguments.only or CASE_STUDIES
    require_scripts(names, arguments.dir)
    scale = "full scale" if arguments.full else "small scale (--full for full scale)"
    count = f"{len(names)} case stud{'y' if len(names) == 1 else 'ies'}"
    print(f"{count}, {scale}; figures and summaries in {arguments.out}/")
    start = time.perf_counter()
    for position, name in enumerate(names, start=1):
        # One line when a study starts, one when it ends: PyMC's sampler may write between.
        step = f"[{position}/{len(names)}] {name}"
        print(f"{step}: {case_study_title(name, arguments.dir)}", flush=True)
        begun = time.perf_counter()
        run_case_studies(
            arguments.out, smoke=not arguments.full, names=[name], directory=arguments.dir
        )
        print(f"{step} done in {_duration(time.perf_counter() - begun)}", flush=True)
    print(
        f"\n{count} in {_duration(time.perf_counter() - start)}; "
        f"figures and summaries in {arguments.out}/"
    )
    return 0


def _duration(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


# What to do when the likelihood alone identifies no MLE (the posterior may still be fine).
NO_MLE = (
    "There are no standard errors from the likelihood alone; with --out DIR the report "
    "describes the posterior, priors included."
)
# The information matrix is printed up to this many parameters, the standard errors up to
# STANDARD_ERROR_LINES lines; --out writes both in full.
PRINTED_MATRIX = 12
STANDARD_ERROR_LINES = 40


def _print_mle(model, out) -> None:
    mode = current_mode(model, terms="likelihood", space="constrained")
    if not mode.converged:
        raise ConvergenceError(
            f"no maximum-likelihood estimate was found (gradient norm {mode.grad_norm:.3g} "
            f"after {mode.n_iter} iterations). {mode.message}"
        )
    print(
        f"\nmaximum likelihood: log-likelihood {mode.logp:.6g}, |gradient| {mode.grad_norm:.2g}, "
        f"{mode.n_iter} Newton iterations"
    )
    # A CSV of the matrix: dense (the memory guard says so if it cannot be).
    information = observed_information(mode, model=model, structure="dense")
    # No maximum of the likelihood (a singular information): no table, the reason why.
    positive_definite(
        information.values,
        mode.labels,
        what="observed information at the MLE",
        advice=NO_MLE if out is None else "The report describes the posterior, priors included.",
    )
    table = str(mle_summary(mode, model))
    size = len(mode.labels)
    print("\nobserved information at the MLE (constrained space):")
    if size <= PRINTED_MATRIX:
        print(information.to_pandas().to_string(float_format=lambda v: f"{v:.5g}"))
    else:
        where = "observed_information.csv" if out is None else out / "observed_information.csv"
        print(f"  {size} × {size}, too large to print; --out writes it to {where}")
    print("\nestimates with standard errors from the inverse observed information:")
    lines = table.splitlines()
    print("\n".join(lines[: STANDARD_ERROR_LINES + 1]))
    if len(lines) > STANDARD_ERROR_LINES + 1:
        where = "standard_errors.txt" if out is None else out / "standard_errors.txt"
        print(f"  … {len(lines) - 1} parameters in all; --out writes every line to {where}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        information.to_pandas().to_csv(out / "observed_information.csv")
        (out / "standard_errors.txt").write_text(table + "\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


if __name__ == "__main__":
    sys.exit(main())
