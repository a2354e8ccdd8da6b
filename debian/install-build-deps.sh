#!/usr/bin/env bash
# Installs the Debian packages that `make deb` needs, if any is missing;
# with --test, also those the package install test (internal/debtest)
# needs: lintian, debootstrap, and systemd for systemd-analyze.
# Non-interactive, and no service is started by a package's postinst.
#
# Go is not among them: Debian 12's golang-go is older than go.mod
# requires. The build uses the go on PATH (or /usr/local/go/bin/go).
set -euo pipefail

pkgs=(debhelper dpkg-dev build-essential fakeroot)
if [ "${1:-}" = --test ]; then
  pkgs+=(lintian debootstrap systemd)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-build-deps: missing packages: ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi

echo "install-build-deps: installing ${missing[*]}" >&2
# Keep postinst scripts from starting system services (Debian convention).
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  --no-install-recommends "${missing[@]}" >/dev/null
echo "install-build-deps: done" >&2
