# Quickstart: `make serve` then, in another shell, `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TINY_MODEL := .cache/tiny-qwen3-vl
METRICS_PORT ?= 8080
PY_DIRS := pipelines serve_app jobs devtools evals tests bench examples
# serve.yaml needs a CUDA GPU and real weights; without a GPU the same graph runs on the tiny model.
SERVE_CONFIG ?= $(shell if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then echo configs/serve.yaml; else echo configs/cpu.yaml; fi)

.PHONY: setup serve stop tiny-model test test-unit test-e2e test-dev lint bench clean

NSFW_MODEL := .cache/nsfw/mobilenet_v2.onnx
# Debian packages the default install needs: redis-server (the response-cache tests), postgresql and
# mariadb-server (the audit tests start their own servers from them, in temporary directories; the
# system services are not used), the CJK and Latin fonts the image-moderation evaluation draws its
# images with, and npm (fetches the nsfwjs package whose weights become the NSFW screen). Only the
# missing ones are installed.
SYSTEM_PACKAGES := redis-server postgresql mariadb-server fonts-wqy-microhei fonts-noto-cjk fonts-dejavu-core \
	fonts-liberation2
# the browser the console's end-to-end tests drive through Playwright (which cannot download its own here)
SYSTEM_PACKAGES += chromium

.PHONY: system-packages nsfw-model

setup: $(VENV)/.installed system-packages nsfw-model

system-packages:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	 command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	 missing="$$(echo $$missing)"; \
	 if [ -n "$$missing" ]; then \
	   echo "installing from Debian's packages: $$missing"; \
	   if [ "$$(id -u)" = 0 ]; then APT=apt-get; else APT="sudo -n apt-get"; fi; \
	   DEBIAN_FRONTEND=noninteractive $$APT install -y --no-install-recommends $$missing >/dev/null 2>&1 \
	   || { DEBIAN_FRONTEND=noninteractive $$APT update >/dev/null 2>&1 \
	        && DEBIAN_FRONTEND=noninteractive $$APT install -y --no-install-recommends $$missing >/dev/null 2>&1; } \
	   || { echo "could not install: $$missing (run: sudo apt-get install $$missing)"; exit 1; }; \
	 fi

# nsfwjs@4.4.0 from the npm registry (MIT), converted by our own code into an ONNX model (never committed)
nsfw-model: $(NSFW_MODEL)

$(NSFW_MODEL): $(VENV)/.installed $(wildcard pipelines/moderation/images/nsfw_*.py)
	$(PY) -m pipelines.moderation.images.nsfw_convert convert

$(VENV)/.installed: requirements.lock requirements-nodeps.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.lock
	$(PIP) install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.lock
	$(PIP) install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

tiny-model: setup
	$(PY) -m devtools.tiny_model $(TINY_MODEL)

serve: setup
	@if [ "$(SERVE_CONFIG)" = "configs/cpu.yaml" ]; then $(MAKE) --no-print-directory tiny-model; fi
	@echo "serving $(SERVE_CONFIG) on http://127.0.0.1:8000, Prometheus metrics on http://127.0.0.1:$(METRICS_PORT)/metrics"
	$(PY) -m serve_app.ops.launch $(SERVE_CONFIG) --metrics-port $(METRICS_PORT)

stop:  # drain in-flight requests, then stop Serve (what Ctrl-C on `make serve` does)
	$(PY) -m serve_app.ops.shutdown

lint: setup
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	$(VENV)/bin/hadolint Dockerfile

test: setup tiny-model lint
	$(PY) -m pytest tests/unit tests/e2e -q --durations=25

# the NSFW conversion against the original nsfwjs in Node (tfjs's JavaScript backend, from npm): minutes
test-dev: setup
	$(PY) -m pytest tests/dev -q

test-unit: setup tiny-model
	$(PY) -m pytest tests/unit -q

test-e2e: setup tiny-model
	$(PY) -m pytest tests/e2e -q

bench: setup tiny-model
	$(PY) -m bench.cpu_graph

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
