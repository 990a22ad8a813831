# syntax=docker/dockerfile:1
# The serving image: the verified model, its contract and the serving core (model_server/) on a slim Python.
# The `pipeline` tool (stages, gates, deploys) is not in it: the core imports nothing of it (pyproject.toml).
# Build through `pipeline image build` (tags it with the git commit and model hash), or:
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t model .
# Heroku needs a Docker v2 manifest for linux/amd64: with BuildKit/buildx add
#   --platform linux/amd64 --provenance=false --sbom=false
#
# Base: the official python:3.11-slim (3.11.16, Debian trixie), pinned by its index digest as
# found pinned in public Dockerfiles (e.g. `python:3.11.16-slim-trixie@sha256:be1575ed…`)
# in August-September 2026. Renew it with `docker buildx imagetools inspect python:3.11-slim`.
# Machines without Docker Hub pass a stand-in: --build-arg PYTHON_IMAGE=local/python-base:3.11
ARG PYTHON_IMAGE=python:3.11-slim@sha256:be1575ed968de893bd54f4c56315ff7c4736ce522c1bca08fd521731aafc0d76

# --- deps: a venv with exactly the hashed serving requirements (cached until serve.txt changes)
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
RUN python3 -m venv /opt/venv
COPY requirements/serve.txt /tmp/serve.txt
# Wheels only (no compiler in any stage); every file checked against its hash in the lock.
# Dead weight at run time, removed in the same layer: pip and setuptools, the test suites shipped
# inside wheels, type stubs, and the Cython/C sources and headers only a build would read.
# The bytecode pip compiled stays: without it every start would recompile the libraries.
RUN /opt/venv/bin/pip install --no-deps --only-binary=:all: --require-hashes -r /tmp/serve.txt \
 && /opt/venv/bin/pip uninstall -y setuptools pip \
 && find /opt/venv/lib -depth -type d -name tests -prune -exec rm -rf {} + \
 && find /opt/venv/lib -type f \( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' -o -name '*.pxi' \
      -o -name '*.c' -o -name '*.cpp' -o -name '*.h' \) -delete


# --- runtime: the base image, the venv, the app and its model; no build tools, no root
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OPENBLAS_NUM_THREADS=1 \
    MODEL_DIR=/app/models \
    CONTRACT_PATH=/app/gx/expectations/data.json \
    METRICS_PATH=/app/reports/metrics.json \
    PARAMS_PATH=/app/params.yaml \
    DVC_LOCK_PATH=/app/dvc.lock \
    PORT=8000
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
# The model changes less often than the code: its layer first.
# The ONNX export of the trained model and its metadata (serving.json: both hashes, the parity proof).
COPY models/model.onnx models/serving.json /app/models/
COPY gx/expectations/data.json /app/gx/expectations/data.json
COPY params.yaml dvc.lock /app/
COPY reports/metrics.json /app/reports/metrics.json
COPY model_server /app/model_server
# Bytecode compiled now: at run time the (random, non-root) user cannot write next to the code.
RUN python -m compileall -q /app/model_server
ARG GIT_COMMIT=unknown
ENV GIT_COMMIT=${GIT_COMMIT}
LABEL org.opencontainers.image.revision=${GIT_COMMIT} \
      org.opencontainers.image.source="model serving image, see docs/serving.md"
# Any uid works (Heroku picks a random one); 10001 with group 0 when run locally.
USER 10001:0
# Heroku ignores EXPOSE and sets $PORT; this documents the local default.
EXPOSE 8000
# The core's entry point (what `pipeline serve` runs too) reads $PORT and $WEB_CONCURRENCY itself, so the exec form needs no shell to
# expand them and the server is PID 1 (it gets SIGTERM directly). Heroku runs it through a shell.
CMD ["python", "-m", "model_server"]
