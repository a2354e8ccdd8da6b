#!/usr/bin/env bash
# Installs the Debian packages the test realm and the tests need, if any is
# missing. Non-interactive, and no service is started by a package's postinst:
# the realm runs its own daemons on loopback high ports. mailman3 is only for
# its runner (the mailman op's tests start their own Mailman core): its
# database is not configured (dbconfig-no-thanks, debconf preseed) and its
# system service is not left running.
set -euo pipefail

pkgs=(
  krb5-kdc krb5-admin-server krb5-user libkrb5-dev
  slapd ldap-utils libsasl2-modules-gssapi-mit
  mariadb-server mariadb-client
  postgresql postgresql-client
  acl quota tmux gcc make procps
  mailman3 dbconfig-no-thanks
)

# The system Mailman 3 service (user list, /etc/mailman3/mailman.cfg), not
# a test's own runner (those run as the test's user with their own config).
system_mailman_pids() {
  pgrep -u list -f '/etc/mailman3/mailman\.cfg|mailman3/bin/(master|runner)' 2>/dev/null || true
}

# Stops the system mailman3 service if a postinst (or an earlier install)
# left it running; fails if it cannot.
ensure_no_system_mailman() {
  [ -n "$(system_mailman_pids)" ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: warning: the system mailman3 service is running (pids $(system_mailman_pids | tr '\n' ' ')); stop it as root" >&2
    return 0
  fi
  echo "install-deps: stopping the system mailman3 service" >&2
  # The init script directly: policy-rc.d would refuse invoke-rc.d.
  if [ -x /etc/init.d/mailman3 ]; then
    /etc/init.d/mailman3 stop >/dev/null 2>&1 || true
  fi
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [ -n "$(system_mailman_pids)" ] || return 0
    sleep 1
  done
  echo "install-deps: the system mailman3 service is still running: pids $(system_mailman_pids | tr '\n' ' ')" >&2
  return 1
}

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  ensure_no_system_mailman
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
# mailman3's postinst must not set up a database through dbconfig-common.
echo "mailman3 mailman3/dbconfig-install boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  --no-install-recommends "${missing[@]}" >/dev/null
ensure_no_system_mailman
echo "install-deps: done" >&2
