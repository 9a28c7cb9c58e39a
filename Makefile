# Two entry points: `make demo` (the main job) and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test sysdeps venv clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# graphviz renders the diagrams; berkeley-abc is the equivalence oracle of the test suite;
# chromium takes the screenshot of the demo report in the tests.
SYSDEPS := graphviz berkeley-abc chromium
sysdeps:
	@if ! command -v dot >/dev/null || ! command -v berkeley-abc >/dev/null \
	    || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSDEPS); \
	  else \
	    echo "make: please install the Debian packages $(SYSDEPS)" >&2; \
	  fi; \
	fi

demo: $(STAMP) sysdeps
	$(VENV)/bin/cotsim demo

test: $(STAMP) sysdeps
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n 2 -q tests

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis
