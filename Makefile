# HallTwin: `make run` to start the hall on http://127.0.0.1:8080, `make test` to check everything.
# Every target installs only what is missing (scripts/install.sh) and never touches .venv's
# contents destructively nor pip's cache (~/.cache/pip holds the dlib wheel that takes ~12 min).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY := .venv/bin/python
export DEBIAN_FRONTEND := noninteractive

.PHONY: help install run cluster test lint migrate seed bench clean

help:
	@echo 'make run      install what is missing, migrate, seed, start http://127.0.0.1:8080 (SQLite, simulated devices)'
	@echo 'make cluster  N processes (default 2) on PostgreSQL + Redis behind nginx on http://127.0.0.1:8080'
	@echo 'make test     install what is missing (+ chromium), start Redis/PostgreSQL if down, ruff, pytest'
	@echo 'make install  Debian packages (as root) and .venv with halltwin[test]; a no-op when up to date'
	@echo 'make lint     ruff check .'
	@echo 'make migrate  bring the database to the newest schema (keeps every row)'
	@echo 'make seed     load the seed (idempotent; new accounts'"'"' passwords are printed once)'
	@echo 'make bench    start Redis/PostgreSQL if down, run every bench/*.py'
	@echo 'make clean    remove build and cache files (keeps .venv, var/ and ~/.cache/pip)'

install:
	@bash scripts/install.sh

migrate: install
	$(PY) -m app.migrate

seed: migrate
	$(PY) -m seed

run: seed
	@echo "HallTwin: http://$${HOST:-127.0.0.1}:$${PORT:-8080}  (Ctrl+C to stop)"
	exec $(PY) main.py

cluster:
	@bash scripts/install.sh --cluster
	exec $(PY) scripts/cluster.py --processes $${N:-2}

test:
	@bash scripts/install.sh --test
	@bash scripts/services.sh
	.venv/bin/ruff check .
	$(PY) -m pytest

lint: install
	.venv/bin/ruff check .

bench: install
	@bash scripts/services.sh
	@bash scripts/bench.sh

clean:
	rm -rf build dist ./*.egg-info .pytest_cache .ruff_cache .nicegui test-results
	find . -path ./.venv -prune -o -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
