# dualcam — `make run` serves on embedded defaults; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test demo migrate clean

install: $(STAMP)
	$(BIN)/dualcam models fetch --pack sface

# Reinstall only when the dependency list changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

migrate: install
	$(BIN)/dualcam migrate

run: migrate
	$(BIN)/dualcam serve

demo: migrate
	$(BIN)/dualcam demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

screenshots: install  # PNGs of both phone apps' screens (zh-CN) under docs/screenshots/; needs chromium
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) var
