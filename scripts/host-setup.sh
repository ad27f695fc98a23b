#!/usr/bin/env bash
# Prepare the control host (Debian 12, root) for the lab and the tests. Idempotent:
#   - installs what is missing: Docker engine (docker.io), debootstrap, python3-venv, psql,
#     promtool (Debian's prometheus package, for the alert rules' tests; its service is disabled);
#   - uses a Docker engine that already answers, or starts dockerd in the background (systemd
#     is not PID 1 on the build machines this project targets).
set -euo pipefail

log=${DOCKERD_LOG:-/var/log/dockerd-pgha.log}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "host-setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# promtool comes only with the server package; the host runs no Prometheus of its own.
if ! command -v promtool >/dev/null 2>&1; then
  echo "host-setup: installing prometheus (for promtool)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

# A pid file left by an engine that died with an earlier session blocks a new start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

echo "host-setup: starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 </dev/null &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "host-setup: dockerd did not answer within 60 s; the end of $log:" >&2
tail -n 20 "$log" >&2
exit 1
