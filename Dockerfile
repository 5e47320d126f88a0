# One image for every mspilot process: `serve` (the API), `worker`, `scheduler`, `db upgrade`.
#
#   docker build -t mspilot .                                   # official Python 3.11 slim base
#   docker build --build-arg BASE_IMAGE=mspilot-base:bookworm .  # a locally built Debian base
#   docker build --build-arg WITH_LOCAL_LLM=true .               # bundle the CPU language model
#
# The base image must provide python3.11 (with venv) as `python3`; deploy/image-check.sh builds
# one from Debian bookworm with debootstrap when no registry is reachable.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG WITH_LOCAL_LLM=false
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src/mspilot-src
RUN python3 -m venv /opt/mspilot && /opt/mspilot/bin/pip install --no-compile "uv==0.9.*"
COPY . .
# A regular (not editable) install: the package lands in site-packages and /src is not needed
# at run time. Bytecode is compiled here so the read-only image never writes it.
RUN extras="" && if [ "$WITH_LOCAL_LLM" = "true" ]; then extras="[local-llm]"; fi \
 && VIRTUAL_ENV=/opt/mspilot UV_COMPILE_BYTECODE=1 /opt/mspilot/bin/uv pip install --no-cache ".${extras}" \
 && /opt/mspilot/bin/uv pip uninstall --python /opt/mspilot/bin/python uv \
 && /opt/mspilot/bin/python -c "import mspilot.cli.main"

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="mspilot" \
      org.opencontainers.image.description="An AI analyst for managed service providers"
# GIT_PYTHON_REFRESH: mlflow looks for git (absent here) and would print a page about it
ENV PATH=/opt/mspilot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 GIT_PYTHON_REFRESH=quiet \
    MSPILOT_DATA_DIR=/data MSPILOT_CACHE_DIR=/data/cache MSPILOT_LOG_FORMAT=json
RUN groupadd --system --gid 10001 mspilot \
 && useradd --system --uid 10001 --gid mspilot --home-dir /data --shell /usr/sbin/nologin mspilot \
 && mkdir -p /data && chown mspilot:mspilot /data
COPY --from=build /opt/mspilot /opt/mspilot
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["mspilot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
