"""Compilation of PyTensor functions, in one place so that the backend is chosen once.

The backend was chosen by measurement on this project's reference machine (2 cores), with a
logistic regression of 2000 rows and 200 coefficients (``benchmarks/hessian.py --latency``
measures the first call in a fresh process):

=====================  ===========================  =====================
linker                 first call of the Hessian    steady-state Hessian
=====================  ===========================  =====================
C (``cvm``), cached    0.6 s                        8.5 ms
C (``cvm``), cold      11.6 s (once per machine)    8.5 ms
numba (PyTensor 3's    56 s in every new process    3.5 ms
default)
=====================  ===========================  =====================

pmfisher compiles a handful of functions per model, each usually called a few times, so the
C backend's disk cache wins by two orders of magnitude; the environment variable
``PMFISHER_MODE`` (any PyTensor mode name, such as ``NUMBA``) overrides the choice for long
steady-state work.
"""

import os
import warnings

import pytensor
from pytensor.compile.mode import Mode, get_mode

__all__ = ["compile_function"]

# pip-installed PyTensor links no BLAS into its C code and says so once per process; the
# dot products then run through NumPy's BLAS, which is what the measurements above include.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS installation")

MODE = (
    get_mode(os.environ["PMFISHER_MODE"]) if "PMFISHER_MODE" in os.environ else Mode(linker="cvm")
)


def compile_function(inputs, outputs):
    """A compiled PyTensor function of ``inputs`` (no updates, no random state)."""
    return pytensor.function(inputs, outputs, mode=MODE, on_unused_input="ignore")
