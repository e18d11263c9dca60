# Two commands for a newcomer: `make run` and `make test`. Both install what they need first.
HOST ?= 127.0.0.1
PORT ?= 8000
PY := .venv/bin/python

.PHONY: run test setup db lint bench-tiles clean-db

setup:
	@scripts/setup.sh

db: setup
	@scripts/db.sh start

run: db
	@HOST=$(HOST) PORT=$(PORT) scripts/run.sh

test: db
	@.venv/bin/ruff check --quiet .
	@REDIS_URL="$$(scripts/redis.sh)" $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	@.venv/bin/ruff check .

clean-db:
	@scripts/db.sh stop; rm -rf var/pg
