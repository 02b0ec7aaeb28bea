# syntax=docker/dockerfile:1
# The SFU server with its web client. No Docker engine runs on the build machines here, so every step
# below is also run by scripts that CI runs: `pip install` by scripts/setup.sh (`make test`), and the web
# client is the committed build in sfu/static/app, which tests/web/test_web_build.py rebuilds from web/
# and compares byte for byte. No Node stage: the server needs no Node.js.
#
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
RUN pip install --no-cache-dir . \
    && python -c "import sfu.web_routes as w, sys; sys.exit(not (w.DEFAULT_WEB_ROOT / 'index.html').is_file())"
USER sfu
# HTTP + Socket.IO, and the media UDP range (publish it 1:1; set SFU_ANNOUNCE_IP to the host's public address)
EXPOSE 8080/tcp
EXPOSE 40000-40199/udp
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${SFU_PORT}/healthz" || exit 1
CMD ["sfu"]
