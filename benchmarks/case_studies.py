"""The case studies' times: at the small scale of ``make case-studies`` and at full scale.

``pmfisher case-studies`` runs every study at the small scale at which its conclusion still
shows (the scale the tests run); ``pmfisher case-studies --full`` at the scale of the
published figures. This script times each study in one process, as the command does, with
its wall time and its CPU time (the process and its children: gcc compiling PyTensor's C
code): on a machine that others share, the CPU time is what the study costs, and on an idle
2-core machine its wall time is about that.

Run from the repository root, with an empty compile directory for a cold run::

    PYTENSOR_FLAGS=compiledir=$(mktemp -d) .venv/bin/python benchmarks/case_studies.py \
        [--full] [--out DIR] [NAME ...]

**Small scale, cold and quiet** (2026-12-05, ``make case-studies`` on a fresh clone of
``74754b5``, an empty compile directory and function cache, load under 1, nothing else
running; each study's own line). 21 studies in 6 min 43 s, 7 min 8 s with the HTML report and
the imports (7 min 35 s of CPU):

==============================  ========
case study                      wall s
==============================  ========
score_two_forms                       53
curvature_at_the_peak                  3
cramer_rao_poisson                    15
kl_curvature                          14
gaussian_information_matrix           22
reparameterization                    15
logistic_hessian                       4
profile_vs_wald                        3
gauss_newton_collapse                  2
cramer_rao_vs_nuts                     2
laplace_logistic_regression            3
laplace_eight_schools                  5
laplace_hierarchical_data             10
laplace_real_data                      3
laplace_many_groups                   11
nested_laplace_eight_schools          21
nested_laplace_frailties              45
nested_laplace_gaussian_process       58
nested_laplace_glmm                   36
optimal_design_pk                     56
optimal_design_dose_response          21
==============================  ========

``score_two_forms`` runs first on the empty compile directory and is the slowest here, as in
the loaded run below; this run did not trace why.

**Small scale, cold** (an empty PyTensor compile directory, every function compiled),
measured on the shared 2-core machine (2 vCPUs, Python 3.12, PyMC 6.4, PyTensor 3.3) under
the load of four other sessions (load average 7–10: each study got a fraction of a core, so
its wall time here is several times what it would be alone), at ``c5e01e6``…``0f2e94a``
(``nested_laplace_gaussian_process`` and ``nested_laplace_glmm`` again after the last
commit, below):

==============================  ========  ========
case study                      wall s    CPU s
==============================  ========  ========
score_two_forms                 584       78
curvature_at_the_peak           26        3
cramer_rao_poisson              125       17
kl_curvature                    61        16
gaussian_information_matrix     148       31
reparameterization              114       20
logistic_hessian                32        5
gauss_newton_collapse           30        4
cramer_rao_vs_nuts              30        5
laplace_logistic_regression     31        5
laplace_eight_schools           53        8
laplace_hierarchical_data       223       34
laplace_real_data               22        3
laplace_many_groups             109       16
nested_laplace_eight_schools    214       43
nested_laplace_frailties        117       63
nested_laplace_gaussian_process 271       135
nested_laplace_glmm             92        61
==============================  ========  ========

The first sixteen: 1,919 s of wall time under that load, 351 s of CPU; the last two ran
after the last commit (``nested_laplace_gaussian_process`` on a compile directory holding
some of its C modules from an attempt before it, which failed), 197 s of CPU: 548 s of CPU for
all eighteen, about 9 minutes. Every summary meets the assertions its smoke test makes.
Before this branch (all but ``nested_laplace_glmm``, cold, same machine, load rising from 0.4
to 7: ``/usr/bin/time``), 621 s of CPU; the nested studies' cold time was then mostly
gcc compiling the Laplace marginal's Hessian (a profile of ``nested_laplace_eight_schools``:
712 of its 911 s in gcc, 499 s for the Hessian's pullback alone), which now runs without C
on small models.

``optimal_design_dose_response`` (added later; same machine, load average 9–13): 65 s of CPU
(420 s of wall time) with a compile directory that held only other design tests' modules, and
16.5 s of CPU (75 s of wall time) warm, as its smoke test.

**Full scale** (``--full``), as last measured (on the same machine, under load, recorded in
each study's docstring; the others were not run at full scale):

=============================  ===================================================  ==========
study                          full-scale run                                       wall time
=============================  ===================================================  ==========
laplace_many_groups            10,000 groups: ``laplace`` (sparse route) and NUTS   ~1.5 h
                               warm-started, 2 × 500 draws (NUTS 5,195 s, Laplace
                               24 s; load 5–7)
nested_laplace_glmm            2,000 groups: NUTS on the whole model (about 380 s,  ~16 min
                               from the recorded 3.7× ratio), nested Laplace
                               ``hyper="gaussian"`` 103 s and ``"nuts"`` 467 s
=============================  ===================================================  ==========
"""

import argparse
import resource
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (gcc)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    sys.path.insert(0, str(REPOSITORY))
    from pmfisher.reporting.case_studies import CASE_STUDIES, run_case_studies

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full scale (hours)")
    parser.add_argument("--out", type=Path, default=Path("results/case_studies"))
    parser.add_argument("names", nargs="*", help="a subset of the case studies")
    arguments = parser.parse_args()
    names = arguments.names or CASE_STUDIES
    print(f"{'case study':<34} {'wall s':>8} {'CPU s':>8}", flush=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    for name in names:
        begun, used = time.perf_counter(), cpu_seconds()
        run_case_studies(
            arguments.out,
            smoke=not arguments.full,
            names=[name],
            directory=REPOSITORY / "case_studies",
        )
        wall, spent = time.perf_counter() - begun, cpu_seconds() - used
        print(f"{name:<34} {wall:>8.0f} {spent:>8.0f}", flush=True)
    print(f"{'all':<34} {time.perf_counter() - start:>8.0f} {cpu_seconds() - cpu:>8.0f}")


if __name__ == "__main__":
    main()
