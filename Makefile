# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help demo test lint typecheck migrate worker beat bench fidelity clean browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The editable install leaves our own modules uncompiled, and where PYTHONDONTWRITEBYTECODE is set
# (containers, CI) Python never caches them: every `loyalty` run would compile them again, about
# 0.25 s of CPU. They are compiled here once, as pip does for the libraries.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q loyalty ledger sync rules reports sandbox worker.py >/dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP) ## sandbox store with generated data, a full sync, then the reports and an HTML export
	$(BIN)/python -m loyalty.demo

# The dashboard's browser test drives Debian's Chromium through Debian's chromedriver; the Noto
# fonts draw the Arabic page. Installed only when missing (apt-get, as root), so this is quiet and
# idempotent; without root it says what to install.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-core
browser: ## the system Chromium, chromedriver and fonts for the browser tests (installed if missing)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! dpkg -s fonts-noto-core >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "the browser tests need: apt-get install $(BROWSER_PACKAGES) (run it as root)"; exit 1; \
	  fi; \
	  echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; \
	fi

test: $(STAMP) browser ## lint, format check, type check and the whole test suite (SQLite and PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 4

lint: $(STAMP) ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy on the packages
	$(BIN)/mypy

migrate: $(STAMP) ## apply the database migrations (config from LOYALTY_CONFIG or loyalty.toml)
	$(BIN)/loyalty db upgrade

worker: $(STAMP) ## a Celery worker (Redis broker from the config)
	$(BIN)/celery -A worker worker --loglevel=INFO

beat: $(STAMP) ## the Celery beat scheduler
	$(BIN)/celery -A worker beat --loglevel=INFO

bench: $(STAMP) ## the benchmarks (big data; minutes, not seconds)
	$(BIN)/python bench/run_all.py

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .demo

fidelity: $(STAMP) ## foreign clients (Airbyte's connector, the npm client) against the sandbox; installs them in a temp dir
	$(BIN)/python fidelity/run.py
