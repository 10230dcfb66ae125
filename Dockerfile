# syntax=docker/dockerfile:1
# The Pixel Pet image: the service and its locked runtime dependencies, nothing else.
# Built and run for real by tests/container/test_image.py (Podman); docs/operations/deployment.md explains it.
#
# BASE is the pinned upstream image. Dependabot cannot update it (it does not resolve an ARG in FROM): refresh the
# digest by hand (docs/operations/deployment.md, "The image"). The test passes a Debian bookworm base it builds
# itself, because no image registry can be reached there; both ship Python 3.11 and useradd.
ARG BASE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${BASE} AS builder
ARG UV_VERSION=0.13.9
# UV_NATIVE_TLS: use the system CA store (what corporate proxies need; harmless elsewhere).
ENV UV_NATIVE_TLS=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# uv from its PyPI package, into a throwaway environment of the builder stage only.
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --quiet "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first (a layer that changes only with the lock file), then the project itself.
COPY pyproject.toml uv.lock .python-version README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --no-cache
COPY pixelpet ./pixelpet
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable --no-cache

FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="pixelpet" \
      org.opencontainers.image.description="Virtual pets over GraphQL, built to be operated." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/pixelpet/pixelpet" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# A numeric user (Kubernetes' runAsNonRoot can verify it) that owns nothing: the code is read-only to it.
RUN useradd --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin pixelpet
COPY --from=builder /app/.venv /app/.venv
# Nothing is written at run time: bytecode was compiled in the builder and logs go to stdout, so the root
# filesystem can be read-only (docker run --read-only; the chart's readOnlyRootFilesystem).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIXELPET_ENVIRONMENT=production \
    PIXELPET_HOST=0.0.0.0 \
    PIXELPET_PORT=8000
USER 10001:10001
EXPOSE 8000
# SIGTERM starts the drain: readiness fails at once, 3 s later the listener closes, in-flight requests get 5 s
# more. Stop timeouts give it more than those 8 s: compose's stop_grace_period is 15 s; the chart's pods sleep
# 5 s in preStop first and have a terminationGracePeriodSeconds of 20 s.
STOPSIGNAL SIGTERM
# Ready, not merely alive: compose starts the load balancer only on healthy replicas.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["pixelpet", "healthcheck"]
ENTRYPOINT ["pixelpet"]
CMD ["serve"]
