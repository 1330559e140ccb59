# Two entry points (see README): `make case-studies` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use (Python 3.12 via .python-version).
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: case-studies test browser system-libraries

# Debian's OpenBLAS, which PyTensor's own detection links its C code to (-lopenblas -lgfortran
# -lgomp: up to 7x faster dense Hessians, benchmarks/blas.py), and SuiteSparse, whose CHOLMOD
# scikit-sparse is built against during the pip install below (sparse Laplace).
SYSTEM_LIBRARIES := libopenblas-dev libgfortran-12-dev libsuitesparse-dev
system-libraries:
	dpkg -s $(SYSTEM_LIBRARIES) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(SYSTEM_LIBRARIES) >/dev/null; }

$(STAMP): pyproject.toml | system-libraries
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

case-studies: $(STAMP)
	$(VENV)/bin/pmfisher case-studies --out results/case_studies
	$(VENV)/bin/pmfisher report examples/logistic_regression.py --out results/report --nuts

# The HTML report's rendering test drives headless Chromium (Debian's package).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: $(STAMP) browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest
