# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
# Both create or reuse .venv; torch is pinned by .ci/constraints.txt (the local CPU wheel, no CUDA download).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c .ci/constraints.txt

.PHONY: all venv system-deps test lint demo demo-gui benchmarks sample-data clean

all: test

$(STAMP): pyproject.toml .ci/constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) torch
	$(PIP) -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

# Xvfb and Mesa for the napari GUI tests (vispy needs a real GL context; offscreen Qt crashes it).
system-deps:
	@if ! command -v Xvfb >/dev/null 2>&1 || ! ldconfig -p | grep -q libEGL.so.1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Xvfb and Mesa (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      xvfb xauth libgl1 libgl1-mesa-dri libegl1 libglib2.0-0 libfontconfig1 libxkbcommon-x11-0 libdbus-1-3 \
	      libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
	      libxcb-xinerama0 libxcb-xfixes0 libxcb-cursor0 >/dev/null; \
	  else \
	    echo "GUI tests need Xvfb and Mesa: run 'sudo apt-get install xvfb libgl1-mesa-dri' (they are skipped otherwise)"; \
	  fi; \
	fi

lint: venv
	$(BIN)/ruff check src tests benchmarks sample_data

test: venv system-deps lint
	$(BIN)/python -m pytest

demo: venv
	$(BIN)/python -m napari_tiled_unet.demo --out demo_output

demo-gui: venv
	$(BIN)/python -m napari_tiled_unet._napari.launch

# MONAI only for the comparison, in the benchmark's own folder (never a dependency of the package)
benchmarks/.monai: | venv
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --target benchmarks/.monai monai

benchmarks: venv benchmarks/.monai
	$(BIN)/python benchmarks/bench_tiling.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_training.py

sample-data: venv
	$(BIN)/python sample_data/generate.py

clean:
	rm -rf $(VENV) demo_output build dist src/*.egg-info .pytest_cache .ruff_cache
