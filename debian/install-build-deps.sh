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

. "$(dirname "$0")/../internal/apt-install.sh"
apt_install_missing install-build-deps "${pkgs[@]}"
