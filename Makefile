# Two entry points (see README): `make case-studies` runs the main job, `make test` the tests.
# Both create the virtual environment .venv on first use (Python 3.12 via .python-version).
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: case-studies test browser

$(STAMP): pyproject.toml
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
