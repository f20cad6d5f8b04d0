# The two commands a newcomer needs:  make go  (the Go checklist on the sandbox)  and  make test.
# Each sets itself up first: a virtualenv in .venv, a Chromium for Playwright, the Allure CLI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: setup go test sandbox clean
.DEFAULT_GOAL := go

setup: $(VENV)/.installed $(VENV)/.browser .tools/allure/.installed

$(VENV)/.installed: pyproject.toml
	@scripts/setup-python "$(PYTHON)" "$(VENV)"
	@touch $@

$(VENV)/.browser: $(VENV)/.installed
	@scripts/setup-browser "$(BIN)"
	@touch $@

.tools/allure/.installed:
	@scripts/setup-allure .tools/allure

go: setup
	$(BIN)/pytest -m go $(ARGS)

test: setup
	$(BIN)/ruff check src tests checks
	$(BIN)/pytest tests $(ARGS)

sandbox: setup
	$(BIN)/allclear sandbox $(ARGS)

clean:
	rm -rf $(VENV) .tools reports/allure-results reports/allure-report reports/evidence
