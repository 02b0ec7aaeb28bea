#!/usr/bin/env bash
# Installs what `make run` (mode "run"), `make test` ("test"), `make lint` ("lint"), `make bench` ("bench") or
# `make mutate` ("mutate") needs, on a fresh Debian 12 / Ubuntu 24.04 whose python3 refuses `pip install` outside
# a virtual environment (PEP 668).
#
# - Python packages go into the project's own virtual environment, .venv/ (VENV=...), made with the
#   system's python3 (PYTHON=...); `make clean` (or `rm -rf .venv`) removes it.
# - Idempotent: each step is skipped when its result is already there (pip runs again only when
#   pyproject.toml changed), so a second `make run` starts the server within seconds.
# - The web client is committed, built, in sfu/static/app: running the server needs no Node.js.
#   Only the tests use Node (>= 18.19, Debian 12's own nodejs will do); `make web` rebuilds the client.
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

PY_BASE="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
say() { echo "setup: $*" >&2; }
die() { say "$*"; exit 1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) for: $*"
  fi
}
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "please install: ${missing[*]} (no apt-get on this machine)"
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- Python: the system's python3 (3.11+), and our own virtual environment -------------------------------
if ! command -v "$PY_BASE" >/dev/null; then
  [ "$PY_BASE" = python3 ] || die "$PY_BASE not found"
  apt_install python3 python3-venv
fi
"$PY_BASE" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PY_BASE" --version 2>&1) is too old: pysfu needs Python 3.11 or newer"

if ! "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
  rm -rf "$VENV"  # a half-made one (e.g. created without ensurepip) is no use
  say "creating the virtual environment $VENV with $("$PY_BASE" --version 2>&1)"
  if ! "$PY_BASE" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    # Debian and Ubuntu ship venv's ensurepip separately
    apt_install python3-venv
    "$PY_BASE" -m venv "$VENV" || die "could not create $VENV (apt-get install python3-venv)"
  fi
fi
PY="$VENV/bin/python"

case "$mode" in
  test | lint) extras="[test]" ;;
  mutate) extras="[test,mutate]" ;;
  bench) extras="[bench]" ;;
  *) extras="" ;;
esac
stamp="$VENV/.pysfu-installed${extras//[^a-z]/-}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "pip install -e .$extras (into $VENV)"
  "$PY" -m pip install -q --disable-pip-version-check -e ".$extras"
  echo "$want" >"$stamp"
fi

# --- the web client: committed, built; say so when it does not match web/ ----------------------------------
if [ "$mode" != test ] && [ "$mode" != mutate ] && ! "$PY" -m sfu.web_build >/dev/null 2>&1; then
  say "warning: $("$PY" -m sfu.web_build 2>&1 || true)"
fi

[ "$mode" = test ] || exit 0  # lint: ruff comes with the test extras; nothing else

# --- tests: Redis, Chromium, Firefox, Node.js for the web client's tools and the browser drivers ------------
apt_install redis-server chromium firefox-esr iptables coturn  # iptables: loss tests (NFQUEUE); coturn: TURN tests
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  apt_install nodejs npm
fi
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 18 || (a === 18 && b >= 19) ? 0 : 1)' \
  || die "Node.js $(node --version) is too old for the web client's tools: need 18.19 or newer"

npm_ci() {  # only when node_modules is missing or older than the lockfile
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci web
npm_ci tests/node
