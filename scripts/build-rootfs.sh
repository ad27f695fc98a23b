#!/usr/bin/env bash
# Bootstrap a minimal Debian 12 root file system and pack it as a tarball for `docker build`
# (FROM scratch + ADD). Called by playbooks/lab/image.yml; no registry is needed.
# Usage: build-rootfs.sh OUTPUT_TAR MIRROR PACKAGES(comma separated)
set -euo pipefail
out=$1 mirror=$2 packages=$3
work=$(mktemp -d "$(dirname "$out")/rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >"$work.log" 2>&1 || {
  tail -n 30 "$work.log" >&2; exit 1; }
rm -f "$work.log"
# Device nodes, /proc and /sys are provided by the container runtime.
tar -C "$work/root" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$out.part" .
mv "$out.part" "$out"
