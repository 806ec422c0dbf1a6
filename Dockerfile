# GPU image for qwen-vl-serve. Docker cannot run on the development machines; see README "Container".
# Build: docker build -t qwen-vl-serve .
# Run:   docker run --gpus all -p 8000:8000 -v $HOME/.cache/huggingface:/home/ray/.cache/huggingface qwen-vl-serve
FROM rayproject/ray:2.60.0-py311-gpu

WORKDIR /home/ray/app
COPY --chown=ray:users requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY --chown=ray:users pipelines ./pipelines
COPY --chown=ray:users serve_app ./serve_app
COPY --chown=ray:users configs ./configs
RUN pip install --no-cache-dir --no-deps .

# The official image runs as the non-root user `ray`.
USER ray
ENV HF_HOME=/home/ray/.cache/huggingface \
    QVS_HOME=/home/ray/app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
CMD ["serve", "run", "configs/serve.yaml"]
