# syntax=docker/dockerfile:1
# One image for every infersight process: `api` (default), `worker`, `db upgrade`,
# `grafana sync`. Multi-stage: the build stage installs the project and its server extra
# into a virtualenv; the runtime stage copies only that virtualenv and runs as a non-root
# user. No secret is baked in: everything comes from INFERSIGHT_* environment variables.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/infersight
WORKDIR /src
COPY pyproject.toml README.md ./
COPY infersight/ infersight/
COPY sdk/ sdk/
COPY drift/ drift/
COPY collector/ collector/
COPY storage/ storage/
COPY migrations/ migrations/
COPY alerts/ alerts/
COPY dashboards/ dashboards/
RUN /opt/infersight/bin/pip install --no-cache-dir ".[server,grafana]" \
    && /opt/infersight/bin/infersight --help > /dev/null

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="infersight" \
      org.opencontainers.image.description="Production ML observability: drift detection from live model traffic" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 infersight \
    && useradd --system --uid 10001 --gid infersight --home-dir /var/lib/infersight \
       --create-home --shell /usr/sbin/nologin infersight
COPY --from=build /opt/infersight /opt/infersight
ENV PATH=/opt/infersight/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_DATA_HOME=/var/lib/infersight \
    INFERSIGHT_WORKER_METRICS_HOST=0.0.0.0
WORKDIR /var/lib/infersight
USER 10001:10001
EXPOSE 8000 9464
ENTRYPOINT ["infersight"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
