PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test docs lint format clean

setup: $(STAMP)

# Re-install when the project metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[eval,dev,ray]"
	touch $(STAMP)

# The main job: render the demo datasets (resumable: a second `make demo` renders nothing), then
# evaluate the weight-free baselines, a random-init V-JEPA 2 (tubelets) against a random-init 3D CNN of R3D's
# shape (3D kernels) and a random-init album of the tubelet model's shape (frames in order, and read as a
# trajectory), and the controls (oracles, track): the report opens with the paired verdict, by kind of
# opponent. Last, score the violation quadruplets with their surprise controls, V-JEPA 2's surprise and the album's trajectory surprise, compared paired.
# Each step says how long it took.
demo: $(STAMP)
	@t0=$$(date +%s); \
	$(BIN)/simgen ls && \
	$(BIN)/simgen render scenes/falling_rising.yaml --out data/falling_rising -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/impact.yaml --out data/impact -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/lights.yaml --out data/lights -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/arrow_of_time.yaml --out data/arrow_of_time -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/gravity.yaml --out data/gravity -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/contact.yaml --out data/contact -n 200 --seed 0 && \
	$(BIN)/simgen render scenes/violations.yaml --out data/violations -n 160 --seed 0 && \
	for d in falling_rising impact lights arrow_of_time gravity contact violations; do \
	  $(BIN)/simgen preview data/$$d --out data/$$d/preview.png || exit 1; done && \
	t1=$$(date +%s) && echo "demo: rendered (or resumed) the datasets in $$((t1 - t0)) s" && \
	$(BIN)/evaluate run data/falling_rising data/impact data/lights data/arrow_of_time data/gravity data/contact \
	  -e pixels -e motion -e random-vjepa2:tiny -e random-cnn3d:tiny -e random-image:tiny \
	  -e random-image:tiny,pool=trajectory \
	  -e oracle-static -e oracle-full -e track --out runs/demo && \
	t2=$$(date +%s) && echo "demo: evaluated in $$((t2 - t1)) s" && \
	$(BIN)/evaluate surprise data/violations -e extrapolate,order=0 -e extrapolate,order=1 -e frame-classifier \
	  -e oracle -e random-vjepa2:tiny -e trajectory:random-image:tiny --out runs/demo-surprise && \
	echo "demo: scored the violation quadruplets with their controls in $$(($$(date +%s) - t2)) s" && \
	echo "demo datasets are in $(CURDIR)/data/ (preview.png in each); the evaluation report is $(CURDIR)/runs/demo/report.html (and report.md), the surprise report $(CURDIR)/runs/demo-surprise/surprise_report.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# The docs site (mkdocs-material) into site/; --strict turns a broken link, a missing page or anchor into a
# failed build. The API reference is read from the source without importing it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The code is laid out by hand (compact hanging indents at 110 columns); `ruff format` would rewrite
# every file into one call argument per line, so lint checks the rules and `format` applies their fixes.
lint: $(STAMP)
	$(BIN)/ruff check simgen evaluate tests bench docs

format: $(STAMP)
	$(BIN)/ruff check --fix simgen evaluate tests bench docs

clean:
	rm -rf $(VENV) data runs site
