# The two commands of the README, each doing its own set-up from a fresh clone:
#   make demo   the live demo on the embedded default (installs infersight[server] into .venv)
#   make test   the test suite (installs infersight[test] into .venv; as root on Debian or
#               Ubuntu also Chromium and Prometheus, which the page and health tests need)
# Both reuse .venv and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test system-packages

demo: $(VENV)/.installed-server
	$(BIN)/infersight demo

test: $(VENV)/.installed-test system-packages
	$(BIN)/python -m pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-server: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-server

# Headless Chromium (web-page test) and Prometheus (promtool and a real scraper, service-health
# tests): installed when missing, and only as root where apt-get exists. Anywhere else the
# suite skips those tests and its summary names the command that installs them.
system-packages:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing (apt-get)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
