.PHONY: run test lint bench web clean

# The system's python3 makes the project's own virtual environment; everything runs from there.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHON VENV

# Start the server on 127.0.0.1:8080: one process, in-memory state, no Redis, development mode.
run:
	bash scripts/setup.sh run
	$(PY) -m sfu $(ARGS)

# Run the whole test suite (installs what it needs first, starts its own Redis if none runs).
test:
	bash scripts/setup.sh test
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint:
	bash scripts/setup.sh lint
	$(PY) -m ruff check .

# Benchmarks (installs the `bench` extras: matplotlib, rich): make bench ARGS="--participants 8 --mode forward"
bench:
	bash scripts/setup.sh bench
	$(PY) -m benchmarks $(ARGS)

# Rebuild the web client into sfu/static/app after changing web/ (Node >= 18.19 with npm); commit the result.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

# Remove the virtual environment (the next `make run` or `make test` makes it again).
clean:
	rm -rf $(VENV)
