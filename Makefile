# seqviz: `make dashboard` serves the dashboards, `make test` runs every test.
# Both create (or reuse) .venv with Python 3.11 and install requirements.txt.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8866
PREHEAT ?= 0
export OMP_NUM_THREADS ?= 1

.PHONY: dashboard test lab bench gpu-check venv clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Needs $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

dashboard: $(STAMP)
	$(PY) -m seqviz_server.serve --port $(PORT) --preheat $(PREHEAT)

# JupyterLab on the lessons; as root (containers, Binder) JupyterLab wants --allow-root.
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
lab: $(STAMP)
	$(PY) -m pip show -q jupyterlab >/dev/null 2>&1 || $(PY) -m pip install -q "jupyterlab>=4.2"
	cd lessons && SEQVIZ_THREADS=$${SEQVIZ_THREADS:-1} PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} \
		../$(VENV)/bin/jupyter lab $(LAB_ROOT) --ServerApp.ip=$${LAB_IP:-127.0.0.1}

test: $(STAMP)
	$(PY) -m pytest -q -ra tests

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# Every dashboard's engine on CUDA vs CPU (benchmarks/gpu_check.py); without a GPU it says so and
# exits 0. Needs only torch + numpy: uses .venv if there is one, else python3 (a bare GPU machine).
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	$(GPU_PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)

clean-venv:
	rm -rf $(VENV)
