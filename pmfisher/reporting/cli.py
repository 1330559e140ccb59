"""The ``pmfisher`` command.

pmfisher report FILE.py[:NAME] [--out DIR] [--nuts] [--draws N] [--chains C] [--seed S]
pmfisher case-studies [--dir DIR] [--out DIR] [--smoke] [--only NAME ...]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from pmfisher._core.definiteness import positive_definite
from pmfisher.errors import PMFisherError
from pmfisher.fitting.mode import find_mode, require_converged
from pmfisher.information.observed import observed_information
from pmfisher.reporting.case_studies import CASE_STUDIES, DEFAULT_DIRECTORY, run_case_studies
from pmfisher.reporting.model_file import load_model
from pmfisher.reporting.report import build_report

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="pmfisher", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="curvature report on a model file")
    report.add_argument("model", help="FILE.py or FILE.py:NAME")
    report.add_argument(
        "--out", type=Path, help="folder for the report's files, report.html among them"
    )
    report.add_argument(
        "--nuts", action="store_true", help="compare the Laplace approximation with NUTS"
    )
    report.add_argument(
        "--draws",
        type=_positive,
        default=2000,
        help="NUTS draws per chain; the Laplace approximation gets draws × chains (default 2000)",
    )
    report.add_argument("--chains", type=_positive, default=2, help="NUTS chains (default 2)")
    report.add_argument("--seed", type=int, default=None, help="random seed")
    studies = commands.add_parser("case-studies", help="run the case studies")
    studies.add_argument(
        "--out", type=Path, default=Path("results/case_studies"), help="folder for their files"
    )
    studies.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIRECTORY,
        help="folder holding the case-study scripts (default: ./case_studies)",
    )
    studies.add_argument("--smoke", action="store_true", help="fast, coarse runs")
    studies.add_argument("--only", nargs="+", metavar="NAME", help="run only these")
    arguments = parser.parse_args(argv)
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
    except PMFisherError as error:
        if arguments.out is None:
            raise
        print(f"\nmaximum likelihood: not available: {error}")
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


def _case_studies(arguments) -> int:
    names = arguments.only or CASE_STUDIES
    start = time.perf_counter()
    for position, name in enumerate(names, start=1):
        print(f"[{position}/{len(names)}] {name} ...", end="", flush=True)
        begun = time.perf_counter()
        run_case_studies(
            arguments.out, smoke=arguments.smoke, names=[name], directory=arguments.dir
        )
        print(f" done ({time.perf_counter() - begun:.0f} s)", flush=True)
    print(
        f"\n{len(names)} case studies in {time.perf_counter() - start:.0f} s; "
        f"figures and summaries in {arguments.out}/"
    )
    return 0


def _print_mle(model, out) -> None:
    mode = require_converged(find_mode(model=model, terms="likelihood", space="constrained"))
    print(
        f"\nmaximum likelihood: log-likelihood {mode.logp:.6g}, |gradient| {mode.grad_norm:.2g}, "
        f"{mode.n_iter} Newton iterations"
    )
    # A CSV of the matrix: dense (the memory guard says so if it cannot be).
    information = observed_information(mode, model=model, structure="dense")
    positive_definite(information.values, mode.labels, what="observed information at the MLE")
    table = standard_error_table(mode.x, information.values, mode.labels)
    print("\nobserved information at the MLE (constrained space):")
    print(information.to_pandas().to_string(float_format=lambda v: f"{v:.5g}"))
    print("\nestimates with standard errors from the inverse observed information:")
    print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        information.to_pandas().to_csv(out / "observed_information.csv")
        (out / "standard_errors.txt").write_text(table + "\n")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def standard_error_table(estimates, information, labels) -> str:
    """Plain-text table: estimate, standard error and 95% Wald interval per parameter."""
    covariance = np.linalg.inv(information)
    errors = np.sqrt(np.diag(covariance))
    width = max(len(label) for label in labels)
    lines = [f"{'parameter':<{width}}  {'estimate':>10}  {'std.err':>9}  {'95% Wald interval':>22}"]
    for label, estimate, error in zip(labels, estimates, errors, strict=True):
        low, high = estimate - 1.959964 * error, estimate + 1.959964 * error
        lines.append(
            f"{label:<{width}}  {estimate:>10.4f}  {error:>9.4f}  [{low:>9.4f}, {high:>9.4f}]"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
