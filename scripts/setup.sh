#!/usr/bin/env bash
# Installs what `make run` (mode "run") or `make test` (mode "test") needs on a fresh Debian machine.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

PY="${PYTHON:-python3}"
if [ "$mode" = test ]; then
  command -v apt-get >/dev/null && apt_install redis-server chromium iptables
  "$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
  if [ -f tests/node/package.json ]; then (cd tests/node && npm ci --no-audit --no-fund --loglevel=error); fi
else
  "$PY" -m pip install -q --disable-pip-version-check -e .
fi

# The web client: build it when its sources are newer than the last build (or there is none).
if [ -f web/package.json ]; then
  stamp=sfu/static/app/index.html
  if [ ! -f "$stamp" ] || [ -n "$(find web/src web/index.html web/package.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
    if command -v npm >/dev/null; then
      (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build)
    else
      echo "setup: npm not found; the web client is not built (the server still runs)" >&2
    fi
  elif [ "$mode" = test ] && [ ! -d web/node_modules ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
