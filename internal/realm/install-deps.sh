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

# mailman3's postinst must not set up a database through dbconfig-common.
apt_preinstall() {
  echo "mailman3 mailman3/dbconfig-install boolean false" | debconf-set-selections
}

. "$(dirname "$0")/../apt-install.sh"
apt_install_missing install-deps "${pkgs[@]}"
ensure_no_system_mailman
