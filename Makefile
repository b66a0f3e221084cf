PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint format clean

setup: $(STAMP)

# Re-install when the project metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[eval,dev,ray]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/simgen ls
	$(BIN)/simgen render scenes/falling_rising.yaml --out data/falling_rising --seed 0
	$(BIN)/simgen preview data/falling_rising --out data/falling_rising/preview.png
	@echo "demo datasets are in: $(CURDIR)/data/"

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check simgen evaluate tests bench
	$(BIN)/ruff format --check simgen evaluate tests bench

format: $(STAMP)
	$(BIN)/ruff format simgen evaluate tests bench
	$(BIN)/ruff check --fix simgen evaluate tests bench

clean:
	rm -rf $(VENV) data runs
