# GPU image for qwen-vl-serve. Docker cannot run on the machines this project is built on: the
# image is linted (hadolint, in `make lint`) and tests/unit/test_dockerfile.py checks it against the
# code, but it has not been built here. See README "Container".
#
# Build: docker build -t qwen-vl-serve .
#        docker build --build-arg FLASH_ATTN_WHEEL=<url of a flash-attn wheel for torch 2.14/cu13/py311> ...
#        docker build --build-arg BAKE_MODEL=Qwen/Qwen3-VL-8B-Instruct ...   (weights inside the image)
# Run:   docker run --gpus all -p 8000:8000 -e QVS_API_KEYS=... -e QVS_ADMIN_API_KEYS=... \
#          -v $HOME/.cache/huggingface:/home/ray/.cache/huggingface qwen-vl-serve
#        The API listens on 0.0.0.0 inside the container, so it refuses to start without both key variables
#        (README "Container"; mounted key files: see there).
# The nsfwjs package (MIT) whose weights become the NSFW screen, fetched with npm in a Node stage; the
# image converts it with our own code (pipelines/moderation/images/nsfw_convert.py checks its hash).
FROM node:20.19.5-bookworm-slim AS nsfwjs
WORKDIR /pkg
RUN npm pack nsfwjs@4.4.0 --silent

FROM rayproject/ray:2.60.0-py311-gpu

# Empty: no FlashAttention 2, the engine uses sdpa (attn_implementation: auto). flash-attn publishes
# no binary wheels on PyPI and compiling it takes hours, so only a prebuilt wheel is accepted here.
ARG FLASH_ATTN_WHEEL=""
# Empty: weights come from the HF_HOME volume at run time (or are downloaded there on first start).
ARG BAKE_MODEL=""

WORKDIR /home/ray/app
COPY --chown=ray:users requirements.lock requirements-gpu.lock requirements-nodeps.lock pyproject.toml README.md ./
# DL3013: everything is pinned by the lock files; the optional flash-attn wheel is pinned by its URL.
# rapidocr-onnxruntime goes in without its dependencies (it asks for the GUI opencv; the lock has headless).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir -r requirements.lock -r requirements-gpu.lock \
    && pip install --no-cache-dir --no-deps -r requirements-nodeps.lock \
    && if [ -n "$FLASH_ATTN_WHEEL" ]; then pip install --no-cache-dir --no-deps "$FLASH_ATTN_WHEEL"; fi
COPY --chown=ray:users pipelines ./pipelines
COPY --chown=ray:users serve_app ./serve_app
COPY --chown=ray:users configs ./configs
COPY --chown=ray:users jobs ./jobs
COPY --from=nsfwjs --chown=ray:users /pkg/nsfwjs-4.4.0.tgz ./.cache/nsfwjs/nsfwjs-4.4.0.tgz
# .cache/ holds the Ray cluster token the launcher creates when none is injected (README "Ray cluster
# authentication"): writable by the non-root user, never part of a layer.
RUN pip install --no-cache-dir --no-deps . \
    && install -d -o 1000 -g 100 -m 0700 /home/ray/app/.cache \
    && python -m pipelines.moderation.images.nsfw_convert convert --package-dir .cache/nsfwjs --model-dir .cache/nsfw

# The official image's non-root user `ray` (uid 1000).
USER 1000
ENV HF_HOME=/home/ray/.cache/huggingface \
    QVS_HOME=/home/ray/app
RUN if [ -n "$BAKE_MODEL" ]; then \
      python -c "import sys; from huggingface_hub import snapshot_download; snapshot_download(sys.argv[1])" "$BAKE_MODEL"; \
    fi
VOLUME ["/home/ray/.cache/huggingface"]

# 8000: the API (configs/serve.yaml http_options.port), the only port meant to be published. Ray's
# Prometheus metrics (8080) stay internal: publish them only deliberately, e.g. -p 127.0.0.1:8080:8080.
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=900s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
# `serve run configs/serve.yaml` on a Ray head started with a fixed metrics port (serve_app/ops/launch.py),
# the API bound to every interface of the container, caller and admin keys from these two variables.
CMD ["python", "-m", "serve_app.ops.launch", "configs/serve.yaml", "--metrics-port", "8080", \
     "--host", "0.0.0.0", "--ingress", "api_key_env=QVS_API_KEYS", "--ingress", "admin_api_key_env=QVS_ADMIN_API_KEYS"]
