# Two entry points (see README): `make report` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use (Python 3.12 via .python-version).
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: report test

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

report: $(STAMP)
	$(VENV)/bin/pmfisher report examples/logistic_regression.py --out results/report

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest
