# One command sets up and runs the main job (`make demo`), one sets up and runs the tests (`make test`).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out

.PHONY: setup demo test
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt setup.py tools/install_torch.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	bash tools/install_torch.sh $(PY)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

demo: setup
	$(PY) tools/track.py --demo --out-video $(OUT)/demo.mp4 --out-boxes $(OUT)/demo_boxes.txt

test: setup
	$(PY) -m pytest -q tests
