# syntax=docker/dockerfile:1
# The SFU server with its web client. No Docker engine runs on the build machines here, so every step
# below is also run by scripts/setup.sh (which `make run`, `make test` and CI use): keep the two in step.

# --- the web client, built once in a Node stage -------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund
COPY web/ web/
RUN mkdir -p sfu/static && cd web && npm run build

# --- the server ------------------------------------------------------------------------------------------
# It listens on 0.0.0.0, so without SFU_JWT_SECRET (development mode: anyone may connect under any name)
# it refuses to start and logs why. Pass -e SFU_JWT_SECRET=..., or -e SFU_ALLOW_DEV_MODE=1 for a trial.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    SFU_HOST=0.0.0.0 SFU_PORT=8080 SFU_UDP_PORTS=40000-40199
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 sfu
WORKDIR /app
COPY pyproject.toml README.md ./
COPY sfu/ sfu/
COPY signaling/ signaling/
COPY router/ router/
COPY benchmarks/ benchmarks/
COPY --from=web /src/sfu/static/app/ sfu/static/app/
RUN pip install --no-cache-dir .
USER sfu
# HTTP + Socket.IO, and the media UDP range (publish it 1:1; set SFU_ANNOUNCE_IP to the host's public address)
EXPOSE 8080/tcp
EXPOSE 40000-40199/udp
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${SFU_PORT}/healthz" || exit 1
CMD ["sfu"]
