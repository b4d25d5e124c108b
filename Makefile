# The README's two commands are `make run` and `make test`; both install what is missing first.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

# ha-test: the multi-host failover proof (tests/ha; root, network namespaces).
.PHONY: run pair-code test test-fast ha-test install install-test stack-up stack-down stack-status migrate lint bench plot

run: install stack-up migrate
	bash deploy/run.sh

pair-code:
	bash deploy/run.sh pair-code

test: install-test
	$(BIN)/pytest

ha-test: install-test
	$(BIN)/pytest -s tests/ha

test-fast: install-test
	$(BIN)/pytest -m "not slow and not browser"

install:
	bash deploy/install.sh

install-test:
	bash deploy/install.sh --browser

stack-up: install
	bash deploy/stack.sh up

stack-down:
	bash deploy/stack.sh down

stack-status:
	bash deploy/stack.sh status

migrate: stack-up
	$(BIN)/kol-admin migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install stack-up
	$(BIN)/python -m benchmarks
