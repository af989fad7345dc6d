# flatgrad: every target uses the virtual environment in .venv (created by `make setup`).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# nbgrader runs `alembic` when it creates a gradebook: the venv's bin must be on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

COURSE ?=
STUDENT ?=
JOBS ?=
DEMO ?=
A ?=
STUDENTS ?= 100
GRADE_ARGS := $(if $(COURSE),--course $(COURSE)) $(if $(STUDENT),--student $(STUDENT)) \
	$(if $(JOBS),--jobs $(JOBS)) $(if $(DEMO),--demo)

BROWSER_STAMP := $(VENV)/.browser

.PHONY: help setup browser grade report release check-release contract test test-fast lint formgrader clean gradescope bench gpu-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  variables: COURSE=dir (course root, default: this folder), STUDENT=id (re-grade one student), JOBS=n (parallel notebooks), DEMO=1 (grade the demo class)"
	@echo "             A=assignment (make gradescope), STUDENTS=n (make bench class size, default 100)"

setup: $(STAMP) ## create .venv with the pinned dependencies (torch 2.13.0 CPU)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

browser: $(BROWSER_STAMP) ## Playwright + Debian's chromium, for the browser tests (not needed to grade)

$(BROWSER_STAMP): $(STAMP)
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	$(PY) -m pip install --quiet -e ".[test,browser]"
	touch $(BROWSER_STAMP)

grade: $(STAMP) ## grade submitted/<student>/<assignment>/ (the demo class if empty)
	$(PY) -m autograder grade $(GRADE_ARGS)

report: $(STAMP) ## rebuild reports/index.html, the class report, from the gradebook and reports/ (no grading)
	$(PY) -m autograder report $(if $(COURSE),--course $(COURSE))

release: $(STAMP) ## regenerate release/ from assignments/ (nbgrader generate_assignment)
	$(PY) -m autograder release

check-release: $(STAMP) ## check release/ is in sync, leaks nothing, sources have no outputs
	$(PY) -m autograder release --check

contract: $(STAMP) ## check each assignment's notebook, checks and corpus agree (A=name: one)
	$(PY) -m autograder contract $(A)

test: $(STAMP) ## run the whole test suite (unit, corpus through make grade, browsers, release checks)
	$(PY) -m pytest -q --durations=15

test-fast: $(STAMP) ## unit and check tests only: no make grade, nbgrader run, notebook, browser or GPU (< 1 min)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow and not browser and not cuda"

lint: $(STAMP) ## ruff with the small rule set of pyproject.toml over autograder/ bench/ tests/ data/
	$(PY) -m ruff check autograder bench tests data

gradescope: $(STAMP) ## build build/gradescope/$(A).zip, the Gradescope autograder of assignment A
	@test -n "$(A)" || (echo "usage: make gradescope A=<assignment>" && exit 2)
	$(PY) -m autograder gradescope $(A)

bench: $(STAMP) ## benchmarks (not in make test): grading vs nbgrader, gradient checks, reference speed, Run All
	$(PY) -m bench.grading_bench --students $(STUDENTS)
	$(PY) -m bench.gradcheck_bench
	$(PY) -m bench.report_bench --students $(STUDENTS)
	$(PY) -m bench.reference_bench
	$(PY) -m bench.runall_bench

# gpu-check runs on the venv's torch where `make setup` made one, else on python3's (a CUDA image's,
# Colab's): it needs torch, numpy, pytest and hypothesis, not nbgrader
GPU_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))
gpu-check: ## on a CUDA machine: the CUDA tests and flat-vs-autograd times there (<= 5 min)
	$(GPU_PY) -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py
	$(GPU_PY) -m bench.reference_bench --device cuda

formgrader: $(STAMP) ## open nbgrader's formgrader (grade written answers by hand)
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.root_dir=$(CURDIR)

clean: ## remove grading state (gradebook, autograded, feedback, reports, demo)
	rm -rf autograded feedback reports demo build gradebook.db grades.csv
