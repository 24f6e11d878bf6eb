# xo-journeys worker image. Build: `docker build -t xo-journeys .`; run via docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies are pinned in pyproject.toml; README.md is the package's declared readme.
COPY pyproject.toml README.md ./
COPY orchestrator/ orchestrator/
RUN pip install --no-cache-dir .

# Default journeys and templates; docker-compose.yml mounts the repo's copies over them read-only.
COPY journeys/ journeys/
COPY templates/ templates/

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin xo
USER xo

ENV XO_JOURNEYS_DIR=/app/journeys \
    XO_TEMPLATES_DIR=/app/templates \
    XO_WEB_HOST=0.0.0.0 \
    XO_WEB_PORT=6066

# Web server: Prometheus metrics at /metrics, liveness at /healthz, readiness at /readyz.
EXPOSE 6066

# Healthy = ready: consuming partitions, Redis and Kafka reachable (the reasons are in /readyz's body).
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 CMD ["orchestrator", "probe", "ready"]

CMD ["orchestrator", "worker"]
