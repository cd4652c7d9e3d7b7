# Self-documenting: `make help`. Every target sets up what it needs (venv from uv.lock) itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV := . scripts/env.sh &&

.PHONY: help install demo test test-ui test-stack test-scheduler test-fast up down stack stack-down serve repro lint bench simulate simulate-starts backtest replay-airflow clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

install: ## Create .venv from uv.lock (bootstraps uv if missing)
	@scripts/bootstrap.sh

demo: install ## Land 2013, version it with DVC, run the training DAG through Airflow, print where to look
	@scripts/demo.sh

test: install ## The whole suite: unit, data, DAG integrity and integration tests (real servers)
	@$(ENV) scripts/test.sh

test-scheduler: install ## The backfill test through a real Airflow scheduler (about 5 min)
	@$(ENV) pytest -m scheduler -q tests/integration/test_batch_scoring.py

test-ui: install ## Headless Chromium against make up's UIs in a fresh clone (demo, a monitored night, up, five tests: about 6 min)
	@scripts/chromium.sh ensure
	@$(ENV) scripts/test.sh --no-lint -m ui -s tests/ui

test-stack: install ## The production topology's tests: PostgreSQL, Redis, S3, MLflow with auth, Celery workers (about 20 min)
	@$(ENV) scripts/test.sh --no-lint -m stack tests/stack

stack: install ## The production topology as local processes (PostgreSQL, Redis, moto S3, MLflow basic-auth, Airflow on Celery)
	@scripts/stack.sh up

stack-down: ## Stop exactly what `make stack` started (`scripts/stack.sh down --wipe` also removes its state)
	@scripts/stack.sh down

test-fast: install ## Unit and DAG tests only (no servers)
	@$(ENV) pytest -m "not integration" -q

up: install ## Start the Airflow and MLflow UIs on 127.0.0.1 and print the URLs and the login
	@scripts/up.sh

down: ## Stop everything `make up` / `make demo` started
	@scripts/down.sh

serve: install ## Online scoring: the champion behind an HTTP API on 127.0.0.1:8100 (MLflow up; keys: mlops serve-key)
	@$(ENV) mlops serve

repro: install ## dvc repro (snapshot -> features -> train -> reference); needs the MLflow server (make up)
	@$(ENV) dvc repro

lint: install ## The pre-commit hooks on every file: ruff (with Airflow's AIR rules), mypy, bandit, YAML, large files
	@$(ENV) pre-commit run --all-files --show-diff-on-failure

bench: install ## Benchmarks; results in benchmarks/results/
	@$(ENV) python -m benchmarks

simulate: install ## Replay 2013 day by day under every policy, the benefit of retraining, the frontier (about 28 min); reports/simulation/
	@$(ENV) mlops simulate --benchmark-out benchmarks/results/simulation.json

# The headline on three start dates: the guard and its cost-matched comparators only, the
# benefit every 14th night (about 17 min a start).
STARTS := 2013-01-01 2013-02-01 2013-03-01
simulate-starts: install ## The guard against its comparators from three replay start dates (about 50 min): reports/simulation/starts/
	@for start in $(STARTS); do \
	  $(ENV) mlops simulate --start $$start --report-from 2013-05-01 \
	    --policies frozen,every_14d,every_28d,guarded --benefit-every-days 14 \
	    --out reports/simulation/starts/start=$$start || exit 1; \
	done
	@$(ENV) mlops simulation-starts $(foreach s,$(STARTS),reports/simulation/starts/start=$(s)/summary.json)

backtest: install ## How far to trust the monitoring on 2013 (about 10 min): benchmarks/results/monitoring_backtest.json
	@$(ENV) mlops monitoring-backtest --out benchmarks/results/monitoring_backtest.json

replay-airflow: install ## A month of the guarded loop through a real Airflow scheduler vs the replay (about an hour)
	@$(ENV) MLOPS_MONTH_REPORT=reports/simulation/airflow_month.json pytest -m month -s -q tests/integration/test_replay_through_airflow.py

cost-month: install ## June 2013 through the nightly path, then `mlops cost --month 2013-06` (about 10 min): benchmarks/results/cost_month.md
	@$(ENV) python -m benchmarks cost_month

clean: down ## Remove local state (.local/, landed data, snapshot); keeps .venv
	rm -rf .local data/landing data/runs data/snapshot data/features
