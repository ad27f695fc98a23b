#!/usr/bin/env bash
# Make sure a Docker engine answers. Uses a running engine when there is one; otherwise installs
# Debian's docker.io (if dockerd is missing) and starts dockerd in the background, because
# systemd is not PID 1 on the build machines this project targets. Idempotent.
set -euo pipefail

log=${DOCKERD_LOG:-/var/log/dockerd-lab.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

# A stale pid file from an engine that died with the previous session blocks a new start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

echo "ensure-docker: starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2
exit 1
