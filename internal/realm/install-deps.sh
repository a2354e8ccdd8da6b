#!/usr/bin/env bash
# Installs the Debian packages the test realm and the tests need, if any is
# missing. Non-interactive, and no service is started by a package's postinst:
# the realm runs its own daemons on loopback high ports.
set -euo pipefail

pkgs=(
  krb5-kdc krb5-admin-server krb5-user libkrb5-dev
  slapd ldap-utils libsasl2-modules-gssapi-mit
  mariadb-server mariadb-client
  postgresql postgresql-client
  acl quota tmux gcc make
)

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
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them) first" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
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
echo "install-deps: done" >&2
