# syntax=docker/dockerfile:1
# returnrisk: the API (and, with another command, the MLflow server) in one slim image.
#   docker build -t returnrisk .
#   docker compose up            (compose.yaml: API + PostgreSQL + MLflow server + Prometheus)
# The build stage installs with scripts/install.sh, the same command as `make install-prod`.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md LICENSE ./
COPY scripts/install.sh scripts/install.sh
COPY src src
RUN scripts/install.sh /opt/venv postgres

FROM python:3.11-slim-bookworm AS runtime
# libgomp1: LightGBM's OpenMP runtime (Debian's, updated with the base image: not pinned)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 returnrisk \
    && useradd --system --uid 10001 --gid returnrisk --home-dir /srv/returnrisk --create-home returnrisk
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OMP_WAIT_POLICY=PASSIVE \
    RETURNRISK_LOG_FORMAT=json \
    RETURNRISK_WORKERS=2
WORKDIR /srv/returnrisk
USER 10001:10001
EXPOSE 8000
# healthy once a model is loaded and answering (GET /readyz: 200; 503 while loading → exit 1)
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# no secret here: keys and database URLs come from the environment or from files in /run/secrets
# (one file per setting, e.g. /run/secrets/returnrisk_database_url); workers: RETURNRISK_WORKERS
CMD ["returnrisk", "serve", "--host", "0.0.0.0", "--port", "8000"]
