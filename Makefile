.PHONY: run test lint bench mutate web clean

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

# Mutation testing of the packet path: mutmut mutates router/, tests/router must notice each mutant; then the
# score and every surviving mutant (docs/testing.md). About an hour on 2 cores (68 min measured); a fresh run every time.
MUTATE_JOBS ?= 2
MUTATE_TIMEOUT ?= 90m
mutate:
	bash scripts/setup.sh mutate
	rm -rf mutants
	timeout $(MUTATE_TIMEOUT) nice -n 10 $(PY) -m mutmut run --max-children $(MUTATE_JOBS) >mutants.log 2>&1 \
		|| { tail -n 20 mutants.log; echo "mutmut did not finish (see mutants.log)"; }
	$(PY) scripts/mutation_report.py --json mutants/report.json

# Rebuild the web client into sfu/static/app after changing web/ (Node >= 18.19 with npm); commit the result.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

# Remove the virtual environment (the next `make run` or `make test` makes it again).
clean:
	rm -rf $(VENV)
