# shellcheck shell=bash
# Shared by generate.sh and read-ours.sh (sourced, not run).
# Sets up the venv for the official AWS Python S3 Encryption Client and starts/stops moto on loopback.

PEER_NAME=python
PEER_HOME="${S3EC_PEERS_DIR:-$HOME/.cache/s3ec-peers}/$PEER_NAME"
VENV="$PEER_HOME/venv"
# Pinned so that a rerun drives exactly the same software.
PIP_REQUIREMENTS=(
  "amazon-s3-encryption-client-python==4.0.0"
  "boto3==1.44.8"
  "botocore==1.44.8"
  "moto[server]==5.2.5"
)

log() { printf '%s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A Python 3 that can make venvs (Debian: python3 + python3-venv).
pick_python() {
  local cand
  for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      PYTHON=$(command -v "$cand"); return 0
    fi
  done
  log "installing python3 and python3-venv with apt-get"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
  PYTHON=/usr/bin/python3
}

ensure_venv() {
  local stamp="$VENV/.s3ec-requirements" want
  want=$(printf '%s\n' "${PIP_REQUIREMENTS[@]}")
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  pick_python
  mkdir -p "$PEER_HOME"
  rm -rf "$VENV"
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PIP_REQUIREMENTS[@]}" >&2
  printf '%s\n' "$want" >"$stamp"
}

MOTO_PID=""
# Stops moto on any exit, including Ctrl-C / SIGTERM.
trap_cleanup() {
  trap stop_moto EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

stop_moto() {
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  MOTO_PID=""
}

# Starts moto_server (S3 + KMS) on 127.0.0.1 at a free port; sets MOTO_ENDPOINT. The caller traps stop_moto.
start_moto() {
  local logfile="$1" port i
  port=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  MOTO_PID=$!
  MOTO_ENDPOINT="http://127.0.0.1:$port"
  for i in $(seq 1 100); do
    if "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)' \
        "$MOTO_ENDPOINT" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || { log "moto_server died; see $logfile"; cat "$logfile" >&2; return 1; }
    sleep 0.2
  done
  log "moto_server did not come up on $MOTO_ENDPOINT"
  return 1
}
