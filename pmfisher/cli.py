"""The ``pmfisher`` command: ``pmfisher report FILE.py[:NAME] [--out DIR]``."""

import argparse
import sys
from pathlib import Path

import numpy as np

from pmfisher._model_file import load_model
from pmfisher.errors import PMFisherError
from pmfisher.mode import find_mode, require_converged
from pmfisher.observed import observed_information

__all__ = ["main"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pmfisher", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="curvature report on a model file")
    report.add_argument("model", help="FILE.py or FILE.py:NAME")
    report.add_argument("--out", type=Path, help="folder for the report's files")
    arguments = parser.parse_args(argv)
    try:
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
    mode = require_converged(find_mode(model=model, terms="likelihood", space="constrained"))
    print(
        f"\nmaximum likelihood: log-likelihood {mode.logp:.6g}, |gradient| {mode.grad_norm:.2g}, "
        f"{mode.n_iter} Newton iterations"
    )
    information = observed_information(mode, model=model)
    table = standard_error_table(mode.x, information.values, mode.labels)
    print("\nobserved information at the MLE (constrained space):")
    print(information.to_pandas().to_string(float_format=lambda v: f"{v:.5g}"))
    print("\nestimates with standard errors from the inverse observed information:")
    print(table)
    if arguments.out is not None:
        arguments.out.mkdir(parents=True, exist_ok=True)
        information.to_pandas().to_csv(arguments.out / "observed_information.csv")
        (arguments.out / "standard_errors.txt").write_text(table + "\n")
        print(f"\nwritten to {arguments.out}/")
    return 0


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
