# Set-up and checks. `make demo` and `make test` are the two commands in README.md.
PYTHON  ?= python3
VENV    ?= .venv
PY       = $(VENV)/bin/python
RETRAIN ?= 0

.PHONY: venv test test-all demo emoji bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Installed once, again only when pyproject.toml changes (the package itself is editable).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Quick but meaningful subset (CI): everything not marked slow.
test: venv
	$(PY) -m pytest -q -m "not slow"; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

# Every test, slow end-to-end ones included.
test-all: venv
	$(PY) -m pytest -q

# Frozen vs full fine-tuning on synthetic domains from the shipped source generator (runs/demo;
# rerunning continues where it stopped). RETRAIN=1 trains the source from scratch first (runs/demo-retrain).
demo: venv
	FREEZEG=$(VENV)/bin/freezeg PY=$(PY) RETRAIN=$(RETRAIN) bash scripts/demo.sh

# The real-domain walk-through (docs/emoji.md): OpenMoji -> Fluent Emoji 3D, data to shipped models,
# hours on a CPU; rerunning continues where it stopped. Needs npm and Debian's libcairo2.
emoji: venv
	FREEZEG=$(VENV)/bin/freezeg PY=$(PY) bash scripts/emoji_real.sh

bench: venv
	$(VENV)/bin/freezeg bench

# The documentation site, into runs/site (the test suite builds it too, with the same --strict).
docs: venv
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
