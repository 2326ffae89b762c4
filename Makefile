# assay: two commands to start.
#   make demo   build the demo warehouse, analyse its experiments, write reports
#   make test   install test dependencies, lint, type-check and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,spark,spark-connect,collector,openfeature,report]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assay demo --out demo

# Lint, type check and tests all run, so that one failure does not hide the others' results;
# any of them fails it. mypy is here because CI runs `make test`, and src/ is kept strict-clean.
test: $(STAMP)
	@lint=0; $(BIN)/ruff check src tests benchmarks || lint=$$?; \
	types=0; $(BIN)/mypy || types=$$?; \
	tests=0; $(BIN)/pytest -n 2 --dist loadgroup || tests=$$?; \
	echo "make test: ruff exit $$lint, mypy exit $$types, pytest exit $$tests"; \
	test $$lint -eq 0 -a $$types -eq 0 -a $$tests -eq 0

test-fast: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .mypy_cache
