"""Running the case studies of ``case_studies/`` (one script per experiment of the seed text).

Each script is a plain, runnable file with a narrative docstring and a
``main(out_dir, *, smoke=False) -> dict`` that writes its PNG figure and JSON summary into
``out_dir`` and returns the summary. This module loads them by path — they are examples,
not part of the package — and runs them in the order of the seed text.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from pmfisher.errors import PMFisherError

__all__ = ["CASE_STUDIES", "CASE_STUDY_DIR", "run_case_studies"]

CASE_STUDY_DIR = Path(__file__).resolve().parent.parent / "case_studies"

#: The case studies: the seed text's experiments in the order of its sections, then Laplace
#: against NUTS.
CASE_STUDIES = (
    "score_two_forms",
    "curvature_at_the_peak",
    "cramer_rao_poisson",
    "kl_curvature",
    "gaussian_information_matrix",
    "reparameterization",
    "logistic_hessian",
    "gauss_newton_collapse",
    "cramer_rao_vs_nuts",
    "laplace_logistic_regression",
    "laplace_eight_schools",
    "laplace_hierarchical_data",
    "laplace_real_data",
)


def run_case_studies(
    out_dir, *, smoke: bool = False, names: Sequence[str] | None = None
) -> dict[str, dict]:
    """Run the case studies, writing their figures and summaries into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for the figures (``<name>.png`` or ``<name>_<figure>.png``) and the
        ``<name>.json`` summaries (created if needed).
    smoke : bool
        Fast, coarse runs (fewer replicates, draws and grid points), as in the tests.
    names : sequence of str, optional
        A subset of :data:`CASE_STUDIES`; all of them by default.

    Returns
    -------
    dict[str, dict]
        Case-study name → its numeric summary.
    """
    names = CASE_STUDIES if names is None else tuple(names)
    unknown = [name for name in names if name not in CASE_STUDIES]
    if unknown:
        raise PMFisherError(
            f"unknown case stud{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"choose among {', '.join(CASE_STUDIES)}."
        )
    if not CASE_STUDY_DIR.is_dir():
        raise PMFisherError(
            f"the case-study scripts are not at {CASE_STUDY_DIR}; they ship with the source "
            "repository, so run from a checkout (pip install -e .)."
        )
    out_dir = Path(out_dir)
    return {name: _load(name).main(out_dir, smoke=smoke) for name in names}


def _load(name: str):
    path = CASE_STUDY_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"pmfisher_case_study_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
