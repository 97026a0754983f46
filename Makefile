# Set-up and entry points. `make study` and `make test` create the pinned virtual
# environment on first use (Python >= 3.10 with venv; no conda needed).
PYTHON ?= python3
VENV ?= .venv
CORES ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: study test test-all lint report mutate envs lock

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

## Set up (first time) and run the default study; the report is results/report.html.
study: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	@echo "Report: $(CURDIR)/results/report.html"

## Set up (first time) and run the test-suite (the end-to-end test included).
test: $(STAMP)
	$(BIN)/pytest

## The slow tests too (none are deselected).
test-all: $(STAMP)
	$(BIN)/pytest -m ""

## Mutation testing of the core modules: plant one small bug at a time, run their unit tests,
## print the score and the survivors (about 790 mutants over 17 modules: over three hours on
## 2 cores; not part of CI).
mutate: $(STAMP)
	$(BIN)/python tools/mutate.py $(MODULES)

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/Snakefile workflow/rules

## Snakemake's own interactive report (categories, captions, labels) of the default study.
report: $(STAMP)
	$(BIN)/snakemake --report results/snakemake-report.zip

## The conda files (environment.yml, workflow/envs/vae.yaml) from requirements.txt.
envs:
	$(PYTHON) tools/envfiles.py

## requirements.lock from requirements.txt: a fresh venv, then pip freeze (needs the network).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.txt
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv
