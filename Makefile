# Two commands for a newcomer: `make run` and `make test`. Both install what they need first.
HOST ?= 127.0.0.1
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test setup db lint lock bench-tiles clean-db

setup:
	@scripts/setup.sh

db: setup
	@scripts/db.sh start

run: db
	@HOST=$(HOST) PORT=$(PORT) scripts/run.sh

test: db
	@.venv/bin/ruff check --quiet .
	@REDIS_URL="$$(scripts/redis.sh)" $(PY) -m pytest $(PYTEST_ARGS)

# requirements.lock pins every package for Python 3.11-3.13; UPGRADE=1 moves them to the newest.
lock: setup
	@$(PY) -m uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	    --generate-hashes --quiet $(if $(UPGRADE),--upgrade) -o requirements.lock

lint: setup
	@.venv/bin/ruff check .

clean-db:
	@scripts/db.sh stop; rm -rf var/pg
