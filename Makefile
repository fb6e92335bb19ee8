# Set-up and checks. `make demo` and `make test` are the two commands in README.md.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: venv test test-all demo bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)
	$(PY) -m pip install -q -e '.[test]'

# Quick but meaningful subset (CI): everything not marked slow.
test: venv
	$(PY) -m pytest -q -m "not slow"; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

# Every test, slow end-to-end ones included.
test-all: venv
	$(PY) -m pytest -q

# The whole pipeline on synthetic domains (runs/demo; rerunning continues where it stopped).
demo: venv
	FREEZEG=$(VENV)/bin/freezeg bash scripts/demo.sh

bench: venv
	$(VENV)/bin/freezeg bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
