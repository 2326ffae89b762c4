# assay: two commands to start.
#   make demo   build the demo warehouse, analyse its experiments, write reports
#   make test   install test dependencies, lint, type-check and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# dbt lives in its own virtualenv: dbt-core 1.11 pins pathspec<0.13, mypy needs >= 1 (docs/dbt.md).
# The tests find it at .venv-dbt/bin/dbt (or wherever ASSAY_DBT says).
DBT_VENV  ?= .venv-dbt
DBT_STAMP := $(DBT_VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean airflow-venv

# Airflow pins many libraries, so the Airflow integration test drives it from its own venv.
AIRFLOW_VENV  ?= .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,spark,spark-connect,collector,openfeature,report,web,pipelines]'
	touch $(STAMP)

$(DBT_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install --quiet --upgrade pip
	$(DBT_VENV)/bin/pip install --quiet -e '.[dbt]'
	touch $(DBT_STAMP)

$(AIRFLOW_STAMP): pyproject.toml
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet 'apache-airflow==3.3.2' -e .
	touch $(AIRFLOW_STAMP)

airflow-venv: $(AIRFLOW_STAMP)

demo: $(STAMP)
	$(BIN)/assay demo --out demo

# Lint, type check and tests all run, so that one failure does not hide the others' results;
# any of them fails it. mypy is here because CI runs `make test`, and src/ is kept strict-clean.
test: $(STAMP) $(DBT_STAMP) $(AIRFLOW_STAMP)
	@lint=0; $(BIN)/ruff check src tests benchmarks || lint=$$?; \
	types=0; $(BIN)/mypy || types=$$?; \
	tests=0; $(BIN)/pytest -n 2 --dist loadgroup || tests=$$?; \
	echo "make test: ruff exit $$lint, mypy exit $$types, pytest exit $$tests"; \
	test $$lint -eq 0 -a $$types -eq 0 -a $$tests -eq 0

test-fast: $(STAMP) $(DBT_STAMP) $(AIRFLOW_STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DBT_VENV) $(AIRFLOW_VENV) demo .pytest_cache .ruff_cache .mypy_cache
