# Two commands for a newcomer: `make run` and `make test`. Both install what they need first.
HOST ?= 127.0.0.1
PORT ?= 8000
PY := .venv/bin/python
# No --quiet: mkdocs 1.6 then drops the warnings that --strict counts, and passes a broken link.
MKDOCS := NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs

.PHONY: help run test setup db lint lock bench-tiles clean-db docs docs-serve

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

setup: ## Debian packages (as root), the .venv from requirements.lock, npm packages
	@scripts/setup.sh

db: setup ## start the project-local PostGIS cluster under var/pg (when DATABASE_URL is unset)
	@scripts/db.sh start

run: db ## serve the demo city on HOST:PORT with a job worker
	@HOST=$(HOST) PORT=$(PORT) scripts/run.sh

test: db ## ruff, mypy, the docs, then every test against the real PostGIS and Redis
	@.venv/bin/ruff check --quiet .
	@.venv/bin/mypy
	@$(MKDOCS) build --strict
	@REDIS_URL="$$(scripts/redis.sh)" $(PY) -m pytest $(PYTEST_ARGS)

# requirements.lock pins every package for Python 3.11-3.13; UPGRADE=1 moves them to the newest.
lock: setup ## add new dependencies to requirements.lock (UPGRADE=1: move every pin)
	@$(PY) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	    --generate-hashes --quiet $(if $(UPGRADE),--upgrade) -o requirements.lock

bench-tiles: setup ## the tile benchmark against its peers (bench/tiles.sh; not run by make test)
	@bench/tiles.sh

docs: setup ## build the docs site strictly into var/site (mkdocs build --strict)
	@$(MKDOCS) build --strict

docs-serve: setup ## serve the docs site on HOST:PORT, rebuilt on every change
	@$(MKDOCS) serve --strict --dev-addr $(HOST):$(PORT)

lint: setup ## ruff over the tree, mypy over gis/, layers/ and tiles/
	@.venv/bin/ruff check .
	@.venv/bin/mypy

clean-db: ## stop the local cluster and delete it
	@scripts/db.sh stop; rm -rf var/pg
