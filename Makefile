.PHONY: run test lint bench

PYTHON ?= python3

# Start the server on 127.0.0.1:8080: one process, in-memory state, no Redis, development mode.
run:
	bash scripts/setup.sh run
	$(PYTHON) -m sfu $(ARGS)

# Run the whole test suite (installs what it needs first, starts its own Redis if none runs).
test:
	bash scripts/setup.sh test
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check .

# Benchmarks (needs the `bench` extras: matplotlib, rich): make bench ARGS="--participants 8 --mode forward"
bench:
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[bench]'
	$(PYTHON) -m benchmarks $(ARGS)
