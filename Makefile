# One command sets up and runs the main job (`make demo`), one sets up and runs the tests (`make test`).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out

.PHONY: setup demo test
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py pyproject.toml tools/install_torch.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	bash tools/install_torch.sh $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The vot extra (VOT toolkit, TraX), so that its integration test runs; --no-deps: see requirements-vot.txt.
$(VENV)/.vot-installed: $(VENV)/.installed requirements-vot.txt
	$(PY) -m pip install -q --no-deps -r requirements-vot.txt
	touch $@

demo: setup
	$(VENV)/bin/siamtrack track --demo --out-video $(OUT)/demo.mp4 --out-boxes $(OUT)/demo_boxes.txt

test: setup $(VENV)/.vot-installed
	$(PY) -m pytest -q tests
