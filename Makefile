# dtsj_analysis: every target sets itself up from a fresh clone (Python 3.11 and apt are all it needs).
PY     ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
WEEK   ?= 2025-04-21
REGION ?= navoi
LANG_  ?= uz
DEMO   := data/demo
COMPILE = $(BIN)/python -m compileall -q dtsj_analysis >/dev/null

.PHONY: install sysdeps demo report reports test check-sync nbtest pytest lab bench clean

# The stamp is named by pyproject.toml's checksum, not dated against it: nbdev-export rewrites the file unchanged, which
# would otherwise make every later target install again.
$(STAMP):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/pip install -q -e ".[dev]"    # setuptools explains editable installs at length: not news to a newcomer
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (dtsj)" >/dev/null
	$(COMPILE)
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

# System packages: a PostgreSQL server (started by the tests on loopback), headless Chromium (PDF, browser test),
# LibreOffice Calc without a GUI (the workbook test converts a workbook to PDF) and a Java runtime (the Spark tests run
# PySpark in local mode; Spark 4 needs Java 17+, Debian 12's default is 17).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
sysdeps:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v chromium >/dev/null && command -v soffice >/dev/null \
	   && command -v java >/dev/null; } || { \
	  echo "Installing Debian packages: postgresql chromium libreoffice-calc-nogui default-jre-headless"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql chromium >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui default-jre-headless >/dev/null; }

$(DEMO)/labels.csv: | $(STAMP)
	$(BIN)/dtsj demo-data --out $(DEMO)

demo: $(DEMO)/labels.csv

# The demo week's report for one region: validation, then HTML and PDF under reports/site/<week>/.
report: demo sysdeps
	$(BIN)/dtsj validate --data $(DEMO)
	$(BIN)/dtsj week --data $(DEMO) --week $(WEEK) --backfill 4
	$(BIN)/dtsj report --data $(DEMO) --region $(REGION) --week $(WEEK) --lang $(LANG_)
	@echo "Open reports/site/$(WEEK)/$(REGION).html (PDF beside it; all reports: reports/site/index.html)"

# All 14 regions, two at a time.
reports: demo sysdeps
	$(BIN)/dtsj week --data $(DEMO) --week $(WEEK) --backfill 4
	$(BIN)/dtsj report --data $(DEMO) --all-regions --week $(WEEK) --jobs 2 --lang $(LANG_)

# Notebooks are the source: exporting and cleaning them must change nothing that is committed.
check-sync: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	@git status --porcelain -- nbs dtsj_analysis | grep . && { echo "nbdev-export/nbdev-clean changed the files above: run them and commit"; exit 1; } || echo "notebooks and library in sync"
	@# This environment sets PYTHONDONTWRITEBYTECODE: unless the package is compiled here (nbdev-export has just rewritten
	@# it), every kernel and command the tests start compiles it again (0.04-0.1 s each, farm-bench 2 x 20 runs).
	$(COMPILE)

nbtest: $(STAMP)
	$(BIN)/nbdev-test --n-workers 2

# Two pytest workers, each taking whole test files (a module's Spark session, PostgreSQL server and demo store are made once):
# much of the suite waits on kernels, Chromium, LibreOffice and the JVM, so two run in about two thirds of one's time.
PYTEST_WORKERS ?= 2
pytest: $(STAMP) sysdeps
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadfile; rc=$$?; [ $$rc -eq 5 ] && exit 0 || exit $$rc

test: check-sync nbtest pytest

lab: $(STAMP)
	PYTHONWARNINGS=ignore $(BIN)/pip install -q -e ".[dev,lab]"
	$(BIN)/jupyter lab nbs $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

bench: demo
	$(BIN)/python benchmarks/quality.py --data $(DEMO)
	$(BIN)/python benchmarks/generate.py
	$(BIN)/python benchmarks/detect.py --scale 1 4 --national 100
	$(BIN)/python benchmarks/report.py --data $(DEMO)
	$(BIN)/python benchmarks/csv_export.py

clean:
	rm -rf $(VENV) reports/out reports/site build *.egg-info
